from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "stratus.imports"
    label = "imports"
    verbose_name = "CSV import and export"
