from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "stratus.campaigns"
    label = "campaigns"
    verbose_name = "Email campaigns"
