from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "stratus.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from stratus.api import (
            schema,  # noqa: F401 - registers the OpenAPI extensions
            signals,  # noqa: F401 - drops cached tokens when their grants change
        )
