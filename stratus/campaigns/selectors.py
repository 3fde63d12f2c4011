"""Reads for campaigns: segment members, campaign lists and statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Lower

from stratus.accounts.models import Organization
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import (
    Campaign,
    Recipient,
    RecipientState,
    Segment,
    Suppression,
    SuppressionReason,
)
from stratus.crm.models import Contact
from stratus.platform.errors import NotFound


def segment_contacts(*, org: Organization, filters: dict[str, Any]) -> QuerySet[Contact]:
    """The contacts a segment's filters select, with the CRM's own filter vocabulary."""
    from stratus.crm.selectors import contact_segment

    return contact_segment(org=org, filters=filters)


def segment_list(*, org: Organization) -> QuerySet[Segment]:
    return Segment.objects.filter(organization=org).order_by("name", "pk")


def _found(row: Any, label: str) -> Any:
    if row is None:
        raise NotFound(f"{label} not found.", code=CampaignCode.NOT_FOUND)
    return row


def segment_get(*, org: Organization, segment_id: int) -> Segment:
    segment: Segment | None = Segment.objects.filter(organization=org, pk=segment_id).first()
    return _found(segment, "Segment")


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    with_email: int
    suppressed: int
    sample: list[Contact]


def segment_preview(*, org: Organization, filters: dict[str, Any], sample_size: int = 10) -> SegmentPreview:
    contacts = segment_contacts(org=org, filters=filters)
    emails = contacts.exclude(email="")
    suppressed = Suppression.objects.filter(organization=org)
    return SegmentPreview(
        count=contacts.count(),
        with_email=emails.count(),
        suppressed=emails.annotate(address=Lower("email"))
        .filter(address__in=suppressed.values("email"))
        .count(),
        sample=list(contacts.select_related("company").order_by("pk")[:sample_size]),
    )


def campaign_list(*, org: Organization, state: str | None = None) -> QuerySet[Campaign]:
    campaigns = Campaign.objects.filter(organization=org).select_related("segment")
    if state:
        campaigns = campaigns.filter(state=state)
    return campaigns.order_by("-created_at", "-pk")


def campaign_get(*, org: Organization, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(organization=org, pk=campaign_id).select_related("segment").first()
    return _found(campaign, "Campaign")


@dataclass(frozen=True)
class CampaignStats:
    recipients: int
    queued: int
    sending: int
    sent: int
    failed: int
    skipped: int
    opens: int
    unique_opens: int
    clicks: int
    unique_clicks: int
    unsubscribes: int


def campaign_stats(*, org: Organization, campaign: Campaign) -> CampaignStats:
    rows = Recipient.objects.filter(organization=org, campaign=campaign)
    totals = rows.aggregate(
        recipients=Count("pk"),
        queued=Count("pk", filter=Q(state=RecipientState.QUEUED)),
        sending=Count("pk", filter=Q(state=RecipientState.SENDING)),
        sent=Count("pk", filter=Q(state=RecipientState.SENT)),
        failed=Count("pk", filter=Q(state=RecipientState.FAILED)),
        skipped=Count("pk", filter=Q(state=RecipientState.SKIPPED)),
        opens=Sum("open_count"),
        unique_opens=Count("pk", filter=Q(opened_at__isnull=False)),
        clicks=Sum("click_count"),
        unique_clicks=Count("pk", filter=Q(clicked_at__isnull=False)),
        unsubscribes=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    )
    return CampaignStats(**{key: int(value or 0) for key, value in totals.items()})


def recipient_list(*, org: Organization, campaign: Campaign, state: str | None = None) -> QuerySet[Recipient]:
    rows = Recipient.objects.filter(organization=org, campaign=campaign)
    if state:
        rows = rows.filter(state=state)
    return rows.order_by("pk")


def suppression_get(*, org: Organization, suppression_id: int) -> Suppression:
    return _found(Suppression.objects.filter(organization=org, pk=suppression_id).first(), "Suppression")


def suppression_list(*, org: Organization) -> QuerySet[Suppression]:
    return Suppression.objects.filter(organization=org).order_by("-created_at", "-pk")


@dataclass(frozen=True)
class UnsubscribeLink:
    """What the public unsubscribe page may show: the sending organization and the address the
    message went to, partly hidden (the link may have been forwarded); nothing else."""

    organization_name: str
    masked_email: str
    already: bool


def masked_email(email: str) -> str:
    """``a***@example.com``: enough for its owner to recognise, little for anyone else."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(2, len(local) - 1)}@{domain}"


def unsubscribe_link(*, recipient_id: int) -> UnsubscribeLink | None:
    """The recipient a signed unsubscribe link names (the signature is the credential, so no
    organization is given), or None when it no longer exists."""
    row = (
        Recipient.objects.filter(pk=recipient_id)
        .values("email", "unsubscribed_at", "organization__name")
        .first()
    )
    if row is None:
        return None
    return UnsubscribeLink(
        organization_name=row["organization__name"],
        masked_email=masked_email(row["email"]),
        already=row["unsubscribed_at"] is not None,
    )


def recipient_page(
    *, org: Organization, campaign: Campaign, state: str | None, offset: int, limit: int
) -> list[Recipient]:
    """One page of a campaign's recipients, in order, with their contacts' names (one query)."""
    rows = recipient_list(org=org, campaign=campaign, state=state).select_related("contact")
    return list(rows[offset : offset + limit])


def recipient_counts(*, org: Organization, campaign: Campaign) -> dict[str, int]:
    """Recipients per state (every state present, 0 when none)."""
    rows = (
        Recipient.objects.filter(organization=org, campaign=campaign).values("state").annotate(n=Count("pk"))
    )
    found = {row["state"]: row["n"] for row in rows.order_by()}
    return {state: int(found.get(state, 0)) for state in RecipientState.values}


@dataclass(frozen=True)
class CampaignFigures:
    """One campaign's numbers, as the campaigns report (stratus/reports) counts them."""

    sent: int  # sending finished: delivered + bounced + failed
    delivered: int
    opened: int
    clicked: int
    unsubscribed: int
    bounced: int
    failed: int


def campaign_figures(*, org: Organization, campaign: Campaign) -> CampaignFigures:
    """The report's figures for one campaign, in one query over its own recipients (the page
    that follows a sending campaign asks for them often; the report reads every campaign)."""
    bounce = Exists(
        Suppression.objects.filter(
            organization_id=org.pk,
            campaign_id=campaign.pk,
            email=Lower(OuterRef("email")),
            reason=SuppressionReason.BOUNCED,
        )
    )
    failed = Q(state=RecipientState.FAILED)
    counts = Recipient.objects.filter(organization=org, campaign=campaign).aggregate(
        delivered=Count("pk", filter=Q(state=RecipientState.SENT)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
        bounced=Count("pk", filter=failed & Q(bounce)),
        failed=Count("pk", filter=failed & ~Q(bounce)),
    )
    figures = {name: int(value or 0) for name, value in counts.items()}
    return CampaignFigures(sent=figures["delivered"] + figures["bounced"] + figures["failed"], **figures)
