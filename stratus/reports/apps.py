from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "stratus.reports"
    label = "reports"
    verbose_name = "Reports"
