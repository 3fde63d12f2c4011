from django.apps import AppConfig
from django.db.models.signals import post_delete


class WebConfig(AppConfig):
    """The browser app: server-rendered pages (htmx) over the same services and selectors as the API."""

    name = "stratus.web"
    label = "web"
    verbose_name = "Browser app"

    def ready(self) -> None:
        from stratus.web.models import ExportJob
        from stratus.web.receivers import delete_export_file_after_commit

        post_delete.connect(
            delete_export_file_after_commit, sender=ExportJob, dispatch_uid="web-export-file-delete"
        )
