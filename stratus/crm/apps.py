from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "stratus.crm"
    label = "crm"
    verbose_name = "CRM"
