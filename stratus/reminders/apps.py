from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "stratus.reminders"
    label = "reminders"
    verbose_name = "Reminders and notifications"

    def ready(self) -> None:
        import stratus.celery  # noqa: F401 - makes the Stratus Celery app current for shared tasks
        from stratus.reminders import receivers  # noqa: F401 - keeps relative reminders in step
