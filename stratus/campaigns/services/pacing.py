"""Pacing: the cluster-wide CAMPAIGN_RATE_LIMIT."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from stratus.campaigns.models import SendThrottle


class Pacer:
    """Paces sending under the cluster-wide CAMPAIGN_RATE_LIMIT.

    Slots are reserved from one shared row in blocks (about a fifth of a second of sending
    at a time), so the limit holds across every worker for one query per block.
    """

    def __init__(self) -> None:
        self.rate = settings.CAMPAIGN_RATE_LIMIT
        self.slots: list[datetime] = []

    def _reserve(self) -> None:
        interval = timedelta(seconds=1 / self.rate)
        block = max(1, min(50, int(self.rate / 5)))
        with transaction.atomic():
            throttle = SendThrottle.objects.select_for_update().filter(pk=1).first()
            if throttle is None:
                SendThrottle.objects.bulk_create([SendThrottle(pk=1)], ignore_conflicts=True)
                throttle = SendThrottle.objects.select_for_update().get(pk=1)
            first = max(throttle.next_slot_at, timezone.now())
            throttle.next_slot_at = first + interval * block
            throttle.save(update_fields=["next_slot_at"])
        self.slots = [first + interval * i for i in range(block)]

    def wait(self) -> None:
        if self.rate <= 0:
            return
        if not self.slots:
            self._reserve()
        delay = (self.slots.pop(0) - timezone.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)
