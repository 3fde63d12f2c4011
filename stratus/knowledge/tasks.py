"""The indexer's task: drain the outbox in batches; woken after commits and by the beat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from stratus.knowledge import services

logger = logging.getLogger(__name__)

WAKE_KEY = "knowledge:wake"


@shared_task(
    name="knowledge.index_pending",
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
    acks_late=True,
)
def index_pending() -> int:
    """Index batches until the outbox is empty; a failure is retried with backoff, and the
    entries stay until their batch is written, so the retry (or the beat) redoes it."""
    total = 0
    while True:
        try:
            done = services.index_pending(wait=False)
        except services.IndexerBusy:
            return total  # another worker is draining; the wake-ups and the beat keep coming
        if not done:
            return total
        total += done


def wake() -> None:
    """Send one wake-up (at most one a second from all processes); a lost one waits for the beat."""
    if cache.add(WAKE_KEY, 1, timeout=1):
        try:
            index_pending.apply_async()
        except Exception:
            logger.warning("could not wake the search indexer; the beat will", exc_info=True)
