"""Periodic work of the API, for the Celery beat schedule."""

from __future__ import annotations

from celery import shared_task

from stratus.api.idempotency import purge_expired


@shared_task(name="api.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records past their lifetime (idempotent; run e.g. hourly)."""
    return purge_expired()
