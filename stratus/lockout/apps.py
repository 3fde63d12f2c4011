from django.apps import AppConfig


class LockoutConfig(AppConfig):
    name = "stratus.lockout"
    label = "lockout"
    verbose_name = "Login lockout"
