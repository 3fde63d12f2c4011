"""Periodic work of the documents app, for the Celery beat schedule.

``cleanup_abandoned_uploads`` is idempotent and safe to run on several workers at once
(pending rows are taken with ``skip_locked``; deleting an absent object is a no-op).
Schedule it e.g. hourly.

``extract_text`` reads a document's searchable text (``stratus.documents.text``); ``text_sweep``
queues it again for documents whose message or worker was lost.
"""

from __future__ import annotations

from celery import shared_task

from stratus.documents.services import documents_cleanup
from stratus.documents.text import services as text_services


@shared_task(name="documents.cleanup_abandoned_uploads", ignore_result=True)
def cleanup_abandoned_uploads() -> dict[str, int]:
    report = documents_cleanup()
    return {"pending_rows": report.pending_rows, "orphan_objects": report.orphan_objects}


@shared_task(name="documents.extract_text", ignore_result=True)
def extract_text(document_id: int) -> str:
    return text_services.document_text_extract(document_id=document_id)


@shared_task(name="documents.text_sweep", ignore_result=True)
def text_sweep() -> list[int]:
    return text_services.documents_text_sweep()
