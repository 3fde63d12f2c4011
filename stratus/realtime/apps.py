from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "stratus.realtime"
    label = "realtime"
    verbose_name = "Live updates"
