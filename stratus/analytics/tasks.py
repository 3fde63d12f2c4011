"""The shipper on the worker: the beat wakes it every ``ANALYTICS_SHIP_INTERVAL`` seconds."""

from __future__ import annotations

from django.conf import settings

from stratus.analytics import shipper
from stratus.celery import app


@app.task(name="stratus.analytics.tasks.ship")
def ship() -> int:
    """Ship what is pending; a no-op where no writer is configured or another run holds the
    lock (idempotent: a batch shipped twice counts once)."""
    if not settings.ANALYTICS_WRITER_URL:
        return 0
    return shipper.ship_pending(max_batches=50) or 0
