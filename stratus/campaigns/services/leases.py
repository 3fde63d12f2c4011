"""Leases: one sender per campaign at a time, and finishing a campaign with nothing left."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState
from stratus.campaigns.services.progress import announce_progress


def take_lease(campaign_id: int, token: str, now: datetime) -> bool:
    lease = timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS)
    return bool(
        Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token))
        .update(lease_token=token, lease_until=now + lease)
    )


def finish_if_done(campaign_id: int) -> bool:
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update().filter(pk=campaign_id, state=CampaignState.SENDING).first()
        )
        if campaign is None:
            return False
        pending = Recipient.objects.filter(
            campaign_id=campaign_id, state__in=[RecipientState.QUEUED, RecipientState.SENDING]
        ).exists()
        if pending:
            return False
        campaign.state = CampaignState.SENT
        campaign.finished_at = timezone.now()
        campaign.lease_until = None
        campaign.save(update_fields=["state", "finished_at", "lease_until", "updated_at"])
        announce_progress(campaign)
        return True
