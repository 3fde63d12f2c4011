"""Periodic recovery: start due campaigns, queue again rows a dead sender left, wake idle ones."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState
from stratus.campaigns.services.leases import finish_if_done

logger = logging.getLogger(__name__)


def recipients_resolve_stuck(*, now: datetime | None = None) -> int:
    """Queue again rows a dead sender left ``sending``: their message was never finished."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS)
    return Recipient.objects.filter(state=RecipientState.SENDING, sending_since__lt=cutoff).update(
        state=RecipientState.QUEUED,
        sending_since=None,
        attempts=F("attempts") + 1,
        last_error="the sender stopped before finishing the message; queued again",
    )


def campaigns_sweep(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Start due scheduled campaigns and wake idle sending ones that have due recipients."""
    from stratus.campaigns import tasks

    now = now or timezone.now()
    recipients_resolve_stuck(now=now)
    due = list(
        Campaign.objects.filter(state=CampaignState.SCHEDULED, scheduled_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    idle = Campaign.objects.filter(state=CampaignState.SENDING).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    waiting: list[int] = []
    for campaign_id in idle.values_list("pk", flat=True):
        has_due = Recipient.objects.filter(
            campaign_id=campaign_id, state=RecipientState.QUEUED, next_attempt_at__lte=now
        ).exists()
        if has_due:
            waiting.append(campaign_id)
        else:
            finish_if_done(campaign_id)
    for campaign_id in due:
        _safe_send(tasks.start, campaign_id)
    for campaign_id in waiting:
        _safe_send(tasks.send_batch, campaign_id)
    return {"started": due, "woken": waiting}


def _safe_send(task: Any, *args: Any) -> None:
    try:
        task.apply_async(args=args)
    except Exception:
        logger.warning("could not enqueue %s%r; the next sweep retries", task.name, args, exc_info=True)
