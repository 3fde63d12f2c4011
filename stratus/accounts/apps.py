from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "stratus.accounts"
    label = "accounts"
    verbose_name = "Accounts"
