from django.apps import AppConfig


class WebConfig(AppConfig):
    """The browser app: server-rendered pages (htmx) over the same services and selectors as the API."""

    name = "stratus.web"
    label = "web"
    verbose_name = "Browser app"
