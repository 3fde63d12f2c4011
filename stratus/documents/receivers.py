"""Every deleted document row, however it was deleted (service, admin, a cascade from its
contact, company or deal), has its object deleted after the deleting transaction commits."""

from __future__ import annotations

from typing import Any

from stratus.documents.models import Document, DocumentStatus
from stratus.documents.services import schedule_object_delete
from stratus.documents.storage import staging_key


def delete_object_after_commit(sender: type[Document], instance: Document, **kwargs: Any) -> None:
    schedule_object_delete(instance.key)
    if instance.status == DocumentStatus.PENDING:  # an upload may sit in staging
        schedule_object_delete(staging_key(instance.key))
