"""Starting a due campaign: its recipients materialised once, one queued row per contact."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from stratus.campaigns.models import Campaign, CampaignState, Recipient, Suppression
from stratus.campaigns.selectors import segment_contacts
from stratus.campaigns.services.lifecycle import enqueue
from stratus.campaigns.services.progress import announce_progress


def campaign_start(*, campaign_id: int, now: datetime | None = None) -> bool:
    """Turn a due scheduled campaign into one queued row per contact; True if it started."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=campaign_id, state=CampaignState.SCHEDULED, scheduled_at__lte=now)
            .select_related("organization", "segment")
            .first()
        )
        if campaign is None:
            return False
        if campaign.segment is None:  # never "everyone": a campaign without its segment stops
            campaign.state = CampaignState.CANCELLED
            campaign.finished_at = now
            campaign.save(update_fields=["state", "finished_at", "updated_at"])
            return False
        org = campaign.organization
        suppressed = set(
            Suppression.objects.filter(organization=org).values_list("email", flat=True).iterator()
        )
        contacts = segment_contacts(org=org, filters=campaign.segment.filters)
        rows = contacts.exclude(email="").order_by("pk").values_list("pk", "email").iterator(chunk_size=2000)
        batch: list[Recipient] = []
        for contact_id, address in rows:
            if address.lower() in suppressed:
                continue
            batch.append(
                Recipient(
                    organization=org,
                    campaign=campaign,
                    contact_id=contact_id,
                    email=address,
                    next_attempt_at=now,
                )
            )
            if len(batch) >= 2000:
                Recipient.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        if batch:
            Recipient.objects.bulk_create(batch, ignore_conflicts=True)
        campaign.recipients_total = Recipient.objects.filter(campaign=campaign).count()
        campaign.state = CampaignState.SENDING
        campaign.started_at = now
        campaign.lease_until = None
        campaign.save(update_fields=["recipients_total", "state", "started_at", "lease_until", "updated_at"])
        announce_progress(campaign)
        enqueue("send_batch", campaign.pk)
    return True
