from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "stratus.knowledge"
    label = "knowledge"
    verbose_name = "Search by meaning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stratus.knowledge import receivers

        receivers.connect()
