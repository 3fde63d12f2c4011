from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "stratus.analytics"
    label = "analytics"
    verbose_name = "Analytics store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stratus.analytics import checks  # noqa: F401 - registers the system checks
