"""A campaign's content and the states it moves through.

draft -> scheduled -> sending -> sent, with paused (from scheduled or sending) and cancelled
(from anything unfinished). Every change locks the row and checks the state it starts from in
one place (:func:`_transition`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.campaigns import templating
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState, Segment
from stratus.campaigns.services.progress import announce_progress
from stratus.platform.errors import Conflict, Invalid
from stratus.platform.locks import lock_row
from stratus.platform.unset import UNSET, Unset, given

EDITABLE_FIELDS = (
    "name",
    "subject",
    "body_text",
    "body_html",
    "from_name",
    "from_email",
    "reply_to",
    "track_opens",
    "track_clicks",
)


def enqueue(task_name: str, campaign_id: int) -> None:
    """Queue ``stratus.campaigns.tasks.<task_name>`` for ``campaign_id`` once the transaction commits."""
    from stratus.campaigns import tasks  # the tasks import these services
    from stratus.celery import enqueue_on_commit

    enqueue_on_commit(getattr(tasks, task_name), campaign_id)


def _validate_content(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for field in ("subject", "body_text", "body_html"):
        try:
            templating.validate(str(fields.get(field) or ""))
        except templating.TemplateError as error:
            errors[field] = [str(error)]
    if not str(fields.get("subject") or "").strip():
        errors.setdefault("subject", []).append("This field is required.")
    if not str(fields.get("body_text") or "").strip() and not str(fields.get("body_html") or "").strip():
        errors["body_text"] = [*errors.get("body_text", []), "Write a plain-text body, an HTML body or both."]
    if errors:
        raise Invalid(
            "The campaign content is not valid.", field_errors=errors, code=CampaignCode.CONTENT_INVALID
        )


def _check_segment(org: Organization, segment: Segment | None) -> None:
    if segment is not None and segment.organization_id != org.pk:
        raise Invalid(
            "Unknown segment.",
            field_errors={"segment": ["Unknown segment."]},
            code=CampaignCode.SEGMENT_UNKNOWN,
        )


def _required_name(name: str) -> str:
    if not name.strip():
        raise Invalid(
            "A campaign needs a name.",
            field_errors={"name": ["This field is required."]},
            code=CampaignCode.NAME_REQUIRED,
        )
    return name.strip()


@transaction.atomic
def campaign_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    subject: str,
    segment: Segment | None = None,
    body_text: str = "",
    body_html: str = "",
    from_name: str = "",
    from_email: str = "",
    reply_to: str = "",
    track_opens: bool = True,
    track_clicks: bool = True,
) -> Campaign:
    name = _required_name(name)
    content = {"subject": subject, "body_text": body_text, "body_html": body_html}
    _validate_content(content)
    _check_segment(org, segment)
    return Campaign.objects.create(
        organization=org,
        name=name,
        segment=segment,
        created_by=actor,
        **content,
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        track_opens=track_opens,
        track_clicks=track_clicks,
    )


def _transition(org: Organization, campaign: Campaign, *, allowed: Collection[str], action: str) -> Campaign:
    """The campaign, locked; refused (409, naming its state) unless its state is in ``allowed``."""
    campaign = lock_row(Campaign.objects.filter(organization=org), pk=campaign.pk, label="Campaign")
    if campaign.state not in allowed:
        raise Conflict(
            f"A {campaign.get_state_display().lower()} campaign cannot be {action}.",
            field_errors={"state": [f"is {campaign.state}"]},
            code=CampaignCode.INVALID_STATE,
        )
    return campaign


# The states each change starts from.
CANCELLABLE = frozenset(CampaignState) - {CampaignState.SENT, CampaignState.CANCELLED}
DELETABLE = frozenset(CampaignState) - {CampaignState.SENDING, CampaignState.PAUSED}


@transaction.atomic
def campaign_update(
    *,
    org: Organization,
    campaign: Campaign,
    name: str | Unset = UNSET,
    segment: Segment | Unset | None = UNSET,
    subject: str | Unset = UNSET,
    body_text: str | Unset = UNSET,
    body_html: str | Unset = UNSET,
    from_name: str | Unset = UNSET,
    from_email: str | Unset = UNSET,
    reply_to: str | Unset = UNSET,
    track_opens: bool | Unset = UNSET,
    track_clicks: bool | Unset = UNSET,
) -> Campaign:
    campaign = _transition(org, campaign, allowed=(CampaignState.DRAFT,), action="edited")
    fields = given(
        name=name,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        track_opens=track_opens,
        track_clicks=track_clicks,
    )
    _validate_content({field: getattr(campaign, field) for field in EDITABLE_FIELDS} | fields)
    for field, value in fields.items():
        setattr(campaign, field, value)
    if segment is not UNSET:
        _check_segment(org, segment)
        campaign.segment = segment
    campaign.save()
    return campaign


@transaction.atomic
def campaign_schedule(*, org: Organization, campaign: Campaign, at: datetime | None = None) -> Campaign:
    """Send now (``at`` omitted) or at ``at``; the sweep starts a scheduled campaign when due."""
    campaign = _transition(
        org, campaign, allowed=(CampaignState.DRAFT, CampaignState.SCHEDULED), action="scheduled"
    )
    if campaign.segment_id is None:
        raise Invalid(
            "Choose a segment before sending.",
            field_errors={"segment": ["This field is required."]},
            code=CampaignCode.SEGMENT_REQUIRED,
        )
    now = timezone.now()
    campaign.state = CampaignState.SCHEDULED
    campaign.scheduled_at = at or now
    campaign.save(update_fields=["state", "scheduled_at", "updated_at"])
    if campaign.scheduled_at <= now:
        enqueue("start", campaign.pk)
    return campaign


@transaction.atomic
def campaign_pause(*, org: Organization, campaign: Campaign) -> Campaign:
    campaign = _transition(
        org, campaign, allowed=(CampaignState.SCHEDULED, CampaignState.SENDING), action="paused"
    )
    campaign.state = CampaignState.PAUSED
    campaign.save(update_fields=["state", "updated_at"])
    announce_progress(campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, org: Organization, campaign: Campaign) -> Campaign:
    campaign = _transition(org, campaign, allowed=(CampaignState.PAUSED,), action="resumed")
    if campaign.started_at is None:
        campaign.state = CampaignState.SCHEDULED
        campaign.save(update_fields=["state", "updated_at"])
        if campaign.scheduled_at is None or campaign.scheduled_at <= timezone.now():
            enqueue("start", campaign.pk)
    else:
        campaign.state = CampaignState.SENDING
        campaign.lease_until = None
        campaign.save(update_fields=["state", "lease_until", "updated_at"])
        enqueue("send_batch", campaign.pk)
    announce_progress(campaign)
    return campaign


@transaction.atomic
def campaign_cancel(*, org: Organization, campaign: Campaign) -> Campaign:
    campaign = _transition(org, campaign, allowed=CANCELLABLE, action="cancelled")
    campaign.state = CampaignState.CANCELLED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["state", "finished_at", "updated_at"])
    # A row a sender holds right now is waited for, then re-checked (it is no longer queued).
    Recipient.objects.filter(campaign=campaign, state=RecipientState.QUEUED).update(
        state=RecipientState.SKIPPED, last_error="campaign cancelled"
    )
    announce_progress(campaign)
    return campaign


@transaction.atomic
def campaign_delete(*, org: Organization, campaign: Campaign) -> None:
    campaign = _transition(org, campaign, allowed=DELETABLE, action="deleted (cancel it first)")
    campaign.delete()
