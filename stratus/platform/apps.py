from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "stratus.platform"
    label = "platform"
    verbose_name = "Stratus platform"

    def ready(self) -> None:
        from stratus.platform import checks  # noqa: F401 - registers the system checks
