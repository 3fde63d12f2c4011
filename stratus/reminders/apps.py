from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "stratus.reminders"
    label = "reminders"
    verbose_name = "Reminders and notifications"

    def ready(self) -> None:
        from stratus.reminders import receivers  # noqa: F401 - keeps relative reminders in step
