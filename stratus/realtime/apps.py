from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "stratus.realtime"
    label = "realtime"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from stratus.realtime import (
            receivers,  # noqa: F401 - open sockets re-check access when a credential's grants change
        )
