from django.apps import AppConfig
from django.db.models.signals import post_delete


class DocumentsConfig(AppConfig):
    name = "stratus.documents"
    label = "documents"
    verbose_name = "Documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stratus.documents.models import Document
        from stratus.documents.receivers import delete_object_after_commit

        post_delete.connect(
            delete_object_after_commit, sender=Document, dispatch_uid="documents-object-delete"
        )
