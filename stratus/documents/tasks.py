"""Periodic work of the documents app, for the Celery beat schedule.

``cleanup_abandoned_uploads`` is idempotent and safe to run on several workers at once
(pending rows are taken with ``skip_locked``; deleting an absent object is a no-op).
Schedule it e.g. hourly.
"""

from __future__ import annotations

from celery import shared_task

from stratus.documents.services import documents_cleanup


@shared_task(name="documents.cleanup_abandoned_uploads", ignore_result=True)
def cleanup_abandoned_uploads() -> dict[str, int]:
    report = documents_cleanup()
    return {"pending_rows": report.pending_rows, "orphan_objects": report.orphan_objects}
