"""A campaign written in the browser in one step: its content, and its audience as a saved
segment or as filters saved as a new segment, all or nothing; and a test send to its author."""

from __future__ import annotations

from typing import Any

from django.core.mail import get_connection
from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import Campaign, Recipient, Segment
from stratus.campaigns.selectors import segment_contacts
from stratus.campaigns.services.lifecycle import campaign_create, campaign_update
from stratus.campaigns.services.messages import build_message
from stratus.campaigns.services.segments import segment_create
from stratus.crm.models import Contact
from stratus.platform.errors import ApplicationError, Invalid

# Field names of a new segment in the combined form (the segment's own names are taken by the campaign).
SEGMENT_NAME = "segment_name"


@transaction.atomic
def campaign_compose(
    *,
    org: Organization,
    actor: User | None,
    campaign: Campaign | None,
    segment: Segment | None,
    new_segment: tuple[str, dict[str, Any]] | None,
    content: dict[str, Any],
) -> Campaign:
    """Create (``campaign`` None) or update a draft with ``content`` (the campaign's editable
    fields) and its audience: ``segment``, or ``new_segment`` (name, filters) saved first.

    Every refusal of both steps is reported at once, keyed by field (a new segment's name as
    ``segment_name``, its filters by their names); nothing is written when any is raised.
    """
    errors: dict[str, list[str]] = {}
    message = ""
    if new_segment is not None:
        name, filters = new_segment
        try:
            with transaction.atomic():
                segment = segment_create(org=org, actor=actor, name=name, filters=filters)
        except ApplicationError as refused:
            message = refused.message
            for field, messages in refused.field_errors.items():
                errors.setdefault(SEGMENT_NAME if field == "name" else field, []).extend(messages)
            segment = None
    try:
        with transaction.atomic():
            if campaign is None:
                saved = campaign_create(org=org, actor=actor, segment=segment, **content)
            else:
                saved = campaign_update(org=org, campaign=campaign, segment=segment, **content)
    except Invalid as refused:
        message = message or refused.message
        for field, messages in refused.field_errors.items():
            errors.setdefault(field, []).extend(messages)
    if message:
        raise Invalid(message, field_errors=errors, code=CampaignCode.CONTENT_INVALID)
    return saved


def campaign_test_send(
    *, org: Organization, campaign: Campaign, actor: User, contact: Contact | None = None
) -> str:
    """Send the campaign as ``contact`` (by default the segment's first contact, else no contact)
    would get it, to ``actor``'s own address only; returns that address. Nothing is recorded:
    no recipient row, no tracking (the links are not live), no suppression check."""
    if contact is None and campaign.segment is not None:
        contact = (
            segment_contacts(org=org, filters=campaign.segment.filters).select_related("company").first()
        )
    stand_in = Recipient(pk=0, organization=org, campaign=campaign, contact=contact, email=actor.email)
    message = build_message(campaign, stand_in)
    message.subject = f"[Test] {message.subject}"
    message.to = [actor.email]
    message.extra_headers.pop("List-Unsubscribe-Post", None)
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([message])
    return actor.email
