"""Live progress: ``campaign.progress`` events, and how often a sending batch announces them."""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models import Count, Q

from stratus.campaigns.models import Campaign, Recipient, RecipientState
from stratus.realtime.events import publish


def announce_progress(campaign: Campaign) -> None:
    """``campaign.progress`` to the campaign's organization, counted from the recipient rows.

    Sent when the caller's transaction commits (at once outside one), so the counts are
    committed ones and a rolled-back change announces nothing.
    """
    counts = Recipient.objects.filter(campaign_id=campaign.pk).aggregate(
        total=Count("pk"),
        sent=Count("pk", filter=Q(state=RecipientState.SENT)),
        failed=Count("pk", filter=Q(state=RecipientState.FAILED)),
        skipped=Count("pk", filter=Q(state=RecipientState.SKIPPED)),
        pending=Count("pk", filter=Q(state__in=[RecipientState.QUEUED, RecipientState.SENDING])),
    )
    publish(
        organization_id=campaign.organization_id,
        event="campaign.progress",
        data={"id": campaign.pk, "state": campaign.state, **counts},
    )


class ProgressThrottle:
    """When a sending batch announces progress: not per message at ten thousand recipients.

    Due after about 1% of the campaign's recipients have been handled and at least
    ``CAMPAIGN_PROGRESS_SECONDS`` since the last announcement, or after ten times that
    interval with anything handled (an interval of 0: by count only): at most about a hundred
    count-driven announcements per campaign, and a slow campaign still shows movement.
    """

    def __init__(self, total: int) -> None:
        self.step = max(1, total // 100)
        self.interval = settings.CAMPAIGN_PROGRESS_SECONDS
        self.handled = 0
        self.last = time.monotonic()

    def handled_one(self) -> bool:
        self.handled += 1
        elapsed = time.monotonic() - self.last
        by_count = self.handled >= self.step and elapsed >= self.interval
        if by_count or (self.interval > 0 and elapsed >= 10 * self.interval):
            self.handled = 0
            self.last = time.monotonic()
            return True
        return False
