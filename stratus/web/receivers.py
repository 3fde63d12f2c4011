"""Every deleted export row, however it was deleted (a cascade from its organization or its
member included), has its file deleted after the deleting transaction commits."""

from __future__ import annotations

from typing import Any

from stratus.documents.services import schedule_object_delete
from stratus.web.models import ExportJob


def delete_export_file_after_commit(sender: type[ExportJob], instance: ExportJob, **kwargs: Any) -> None:
    if instance.key and not instance.file_deleted:
        schedule_object_delete(instance.key)
