"""Unsubscribes, opens and clicks (from signed links in the messages) and the suppression list."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.campaigns import tokens
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import Recipient, Suppression, SuppressionReason
from stratus.crm import timeline
from stratus.crm.models import Contact
from stratus.platform.errors import Invalid
from stratus.platform.locks import lock_row


@dataclass(frozen=True)
class Unsubscribed:
    email: str
    organization_name: str
    already: bool


def _recipient_or_bad(recipient_id: int) -> Recipient:
    recipient = Recipient.objects.select_related("organization").filter(pk=recipient_id).first()
    if recipient is None:
        raise tokens.BadToken("no such recipient")
    return recipient


@transaction.atomic
def recipient_unsubscribe(*, token: str) -> Unsubscribed:
    """Put the recipient's address on the organization's suppression list (once)."""
    recipient_id = tokens.unsubscribe_recipient(token)
    _recipient_or_bad(recipient_id)
    recipient = Recipient.objects.select_for_update().select_related("organization").get(pk=recipient_id)
    already = recipient.unsubscribed_at is not None
    if not already:
        recipient.unsubscribed_at = timezone.now()
        recipient.save(update_fields=["unsubscribed_at"])
    Suppression.objects.bulk_create(
        [
            Suppression(
                organization_id=recipient.organization_id,
                email=recipient.email.lower(),
                reason=SuppressionReason.UNSUBSCRIBED,
                campaign_id=recipient.campaign_id,
            )
        ],
        ignore_conflicts=True,
    )
    return Unsubscribed(email=recipient.email, organization_name=recipient.organization.name, already=already)


def recipient_record_open(*, token: str) -> None:
    recipient_id = tokens.open_recipient(token)
    Recipient.objects.filter(pk=recipient_id).update(
        open_count=F("open_count") + 1, opened_at=Coalesce(F("opened_at"), timezone.now())
    )


def recipient_record_click(*, token: str) -> str:
    """Count a click and return the original URL it was signed for."""
    click = tokens.click_target(token)
    Recipient.objects.filter(pk=click.recipient_id).update(
        click_count=F("click_count") + 1, clicked_at=Coalesce(F("clicked_at"), timezone.now())
    )
    return click.url


@transaction.atomic
def suppression_add(*, org: Organization, email: str, reason: str = SuppressionReason.MANUAL) -> Suppression:
    address = email.strip().lower()
    if "@" not in address:
        raise Invalid(
            "Not an email address.",
            field_errors={"email": ["Enter a valid email address."]},
            code=CampaignCode.EMAIL_INVALID,
        )
    Suppression.objects.bulk_create(
        [Suppression(organization=org, email=address, reason=reason)], ignore_conflicts=True
    )
    return Suppression.objects.get(organization=org, email=address)


SUPPRESSION_REMOVED = "suppression.removed"


@transaction.atomic
def suppression_remove(*, org: Organization, actor: User | None, suppression: Suppression | int) -> None:
    """Lift a suppression, so that later campaigns may email the address again.

    Removing an unsubscribe re-subscribes a person who asked to hear nothing more, so the
    API lets only admins do it, and it is recorded on the timeline (who, when, the address,
    why it was suppressed): once for the suppression itself and once on each contact with
    the address.
    """
    pk = suppression.pk if isinstance(suppression, Suppression) else suppression
    locked = lock_row(Suppression.objects.filter(organization=org), pk=pk, label="Suppression")
    data = {
        "email": locked.email,
        "reason": locked.reason,
        "campaign": locked.campaign_id,
        "suppressed_at": locked.created_at,
    }
    for contact in Contact.objects.filter(organization=org, email__iexact=locked.email).order_by("pk"):
        timeline.record(organization=org, actor=actor, target=contact, action=SUPPRESSION_REMOVED, data=data)
    timeline.record(organization=org, actor=actor, target=locked, action=SUPPRESSION_REMOVED, data=data)
    locked.delete()
