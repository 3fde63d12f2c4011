"""Writes for campaigns: segments, campaign lifecycle, sending, unsubscribe and tracking.

Sending works on the rows, not on queue messages: a campaign's recipients are materialised
once (unique per campaign and contact), and batch tasks claim one queued row at a time with
``SELECT ... FOR UPDATE SKIP LOCKED``. See ``transport`` for why a message is committed to
the database between its content and its final ``.``.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from psycopg.pq import ExecStatus

from stratus.accounts.models import Organization, User
from stratus.campaigns import templating, tokens
from stratus.campaigns.models import (
    Campaign,
    CampaignState,
    Recipient,
    RecipientState,
    Segment,
    SendThrottle,
    Suppression,
    SuppressionReason,
)
from stratus.campaigns.selectors import segment_contacts
from stratus.campaigns.transport import (
    ConnectionLost,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    open_transport,
)
from stratus.crm import timeline
from stratus.crm.models import Contact
from stratus.platform.errors import ApplicationError, Conflict, Invalid
from stratus.platform.locks import lock_row
from stratus.realtime.events import publish

logger = logging.getLogger(__name__)

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
OPEN_PIXEL = '<img src="{url}" width="1" height="1" alt="" style="display:none">'


# --- Segments ---------------------------------------------------------------------------------


@transaction.atomic
def segment_create(*, org: Organization, actor: User | None, name: str, filters: dict[str, Any]) -> Segment:
    name = name.strip()
    if not name:
        raise Invalid("A segment needs a name.", field_errors={"name": ["This field is required."]})
    segment_contacts(org=org, filters=filters)  # refuses unknown filters, naming them
    if Segment.objects.filter(organization=org, name=name).exists():
        raise Conflict(
            "A segment with this name already exists.",
            field_errors={"name": ["A segment with this name already exists."]},
            code="conflict",
        )
    return Segment.objects.create(organization=org, name=name, filters=filters, created_by=actor)


@transaction.atomic
def segment_update(
    *, org: Organization, segment: Segment, name: str | None = None, filters: dict[str, Any] | None = None
) -> Segment:
    segment = lock_row(Segment.objects.filter(organization=org), pk=segment.pk, label="Segment")
    if filters is not None:
        segment_contacts(org=org, filters=filters)
        segment.filters = filters
    if name is not None:
        name = name.strip()
        if not name:
            raise Invalid("A segment needs a name.", field_errors={"name": ["This field is required."]})
        if Segment.objects.filter(organization=org, name=name).exclude(pk=segment.pk).exists():
            raise Conflict(
                "A segment with this name already exists.",
                field_errors={"name": ["A segment with this name already exists."]},
                code="conflict",
            )
        segment.name = name
    segment.save()
    return segment


UNFINISHED = (CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)


@transaction.atomic
def segment_delete(*, org: Organization, segment: Segment) -> None:
    segment = lock_row(Segment.objects.filter(organization=org), pk=segment.pk, label="Segment")
    using = list(
        Campaign.objects.filter(organization=org, segment=segment, state__in=UNFINISHED).values_list(
            "name", flat=True
        )
    )
    if using:
        raise Conflict(
            f"The segment is used by unfinished campaigns: {', '.join(using)}.",
            code="in_use",
        )
    segment.delete()


# --- Campaign lifecycle -------------------------------------------------------------------------


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
        raise Invalid("The campaign content is not valid.", field_errors=errors)


def _check_segment(org: Organization, segment: Segment | None) -> None:
    if segment is not None and segment.organization_id != org.pk:
        raise Invalid("Unknown segment.", field_errors={"segment": ["Unknown segment."]})


@transaction.atomic
def campaign_create(
    *, org: Organization, actor: User | None, name: str, segment: Segment | None = None, **fields: Any
) -> Campaign:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unknown campaign fields: {sorted(unknown)}")
    if not name.strip():
        raise Invalid("A campaign needs a name.", field_errors={"name": ["This field is required."]})
    _validate_content(fields)
    _check_segment(org, segment)
    return Campaign.objects.create(
        organization=org, name=name.strip(), segment=segment, created_by=actor, **fields
    )


def _locked(org: Organization, campaign: Campaign) -> Campaign:
    return lock_row(Campaign.objects.filter(organization=org), pk=campaign.pk, label="Campaign")


def _refuse(campaign: Campaign, action: str) -> ApplicationError:
    return Conflict(
        f"A {campaign.get_state_display().lower()} campaign cannot be {action}.",
        field_errors={"state": [f"is {campaign.state}"]},
        code="invalid_state",
    )


@transaction.atomic
def campaign_update(
    *, org: Organization, campaign: Campaign, segment: Segment | object | None = ..., **fields: Any
) -> Campaign:
    campaign = _locked(org, campaign)
    if campaign.state != CampaignState.DRAFT:
        raise _refuse(campaign, "edited")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unknown campaign fields: {sorted(unknown)}")
    merged = {field: getattr(campaign, field) for field in EDITABLE_FIELDS} | fields
    _validate_content(merged)
    for field, value in fields.items():
        setattr(campaign, field, value)
    if segment is not ...:
        assert segment is None or isinstance(segment, Segment)
        _check_segment(org, segment)
        campaign.segment = segment
    campaign.save()
    return campaign


@transaction.atomic
def campaign_schedule(*, org: Organization, campaign: Campaign, at: datetime | None = None) -> Campaign:
    """Send now (``at`` omitted) or at ``at``; the sweep starts a scheduled campaign when due."""
    from stratus.campaigns import tasks
    from stratus.celery import enqueue_on_commit

    campaign = _locked(org, campaign)
    if campaign.state not in (CampaignState.DRAFT, CampaignState.SCHEDULED):
        raise _refuse(campaign, "scheduled")
    if campaign.segment_id is None:
        raise Invalid(
            "Choose a segment before sending.", field_errors={"segment": ["This field is required."]}
        )
    now = timezone.now()
    campaign.state = CampaignState.SCHEDULED
    campaign.scheduled_at = at or now
    campaign.save(update_fields=["state", "scheduled_at", "updated_at"])
    if campaign.scheduled_at <= now:
        enqueue_on_commit(tasks.start, campaign.pk)
    return campaign


@transaction.atomic
def campaign_pause(*, org: Organization, campaign: Campaign) -> Campaign:
    campaign = _locked(org, campaign)
    if campaign.state not in (CampaignState.SCHEDULED, CampaignState.SENDING):
        raise _refuse(campaign, "paused")
    campaign.state = CampaignState.PAUSED
    campaign.save(update_fields=["state", "updated_at"])
    announce_progress(campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, org: Organization, campaign: Campaign) -> Campaign:
    from stratus.campaigns import tasks
    from stratus.celery import enqueue_on_commit

    campaign = _locked(org, campaign)
    if campaign.state != CampaignState.PAUSED:
        raise _refuse(campaign, "resumed")
    if campaign.started_at is None:
        campaign.state = CampaignState.SCHEDULED
        campaign.save(update_fields=["state", "updated_at"])
        if campaign.scheduled_at is None or campaign.scheduled_at <= timezone.now():
            enqueue_on_commit(tasks.start, campaign.pk)
    else:
        campaign.state = CampaignState.SENDING
        campaign.lease_until = None
        campaign.save(update_fields=["state", "lease_until", "updated_at"])
        enqueue_on_commit(tasks.send_batch, campaign.pk)
    announce_progress(campaign)
    return campaign


@transaction.atomic
def campaign_cancel(*, org: Organization, campaign: Campaign) -> Campaign:
    campaign = _locked(org, campaign)
    if campaign.state in (CampaignState.SENT, CampaignState.CANCELLED):
        raise _refuse(campaign, "cancelled")
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
    campaign = _locked(org, campaign)
    if campaign.state in (CampaignState.SENDING, CampaignState.PAUSED):
        raise _refuse(campaign, "deleted (cancel it first)")
    campaign.delete()


# --- Starting: materialise the recipients -----------------------------------------------------------


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
        from stratus.campaigns import tasks
        from stratus.celery import enqueue_on_commit

        enqueue_on_commit(tasks.send_batch, campaign.pk)
    return True


# --- Live progress ----------------------------------------------------------------------------------


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


# --- Sending ------------------------------------------------------------------------------------


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


def _merge_values(campaign: Campaign, recipient: Recipient) -> dict[str, str]:
    contact = recipient.contact
    values: dict[str, str] = {
        "sender.name": campaign.from_name or "",
        "sender.email": campaign.from_email or "",
        "organization.name": campaign.organization.name,
        "unsubscribe_url": tokens.unsubscribe_url(recipient.pk),
        "contact.email": recipient.email,
    }
    if contact is not None:
        values.update(
            {
                "contact.first_name": contact.first_name,
                "contact.last_name": contact.last_name,
                "contact.full_name": contact.full_name,
                "contact.job_title": contact.job_title,
                "contact.phone": str(contact.phones[0]) if contact.phones else "",
            }
        )
        for key, value in (contact.custom_fields or {}).items():
            values[f"contact.custom.{key}"] = "" if value is None else str(value)
        company = contact.company
        if company is not None:
            values.update(
                {
                    "company.name": company.name,
                    "company.domain": company.domain,
                    "company.website": company.website,
                }
            )
    return values


def build_message(campaign: Campaign, recipient: Recipient) -> EmailMultiAlternatives:
    values = _merge_values(campaign, recipient)
    unsubscribe = values["unsubscribe_url"]
    subject = " ".join(templating.render(campaign.subject, values, escape=False).split())
    text_source = campaign.body_text or templating.html_to_text(campaign.body_html)
    text = templating.render(text_source, values, escape=False)
    if "unsubscribe_url" not in text_source:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"
    html_body = ""
    if campaign.body_html:
        html_body = templating.render(campaign.body_html, values, escape=True)
        if "unsubscribe_url" not in campaign.body_html:
            html_body += f'<p style="font-size:12px;color:#666"><a href="{unsubscribe}">Unsubscribe</a></p>'
        if campaign.track_clicks:
            html_body = templating.rewrite_links(
                html_body,
                lambda url: url if url == unsubscribe else tokens.click_url(recipient.pk, url),
            )
        if campaign.track_opens:
            pixel = OPEN_PIXEL.format(url=tokens.open_url(recipient.pk))
            closing = html_body.lower().rfind("</body>")
            html_body = (
                html_body[:closing] + pixel + html_body[closing:] if closing >= 0 else html_body + pixel
            )
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "stratus.invalid"
    sender = (
        formataddr((campaign.from_name, campaign.from_email))
        if campaign.from_email
        else settings.DEFAULT_FROM_EMAIL
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=[recipient.email],
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        headers={
            "Message-ID": f"<campaign-{campaign.pk}.recipient-{recipient.pk}@{host}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"campaign-{campaign.pk}.{host}",
            "Precedence": "bulk",
        },
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    return message


@dataclass(frozen=True)
class RenderedPreview:
    subject: str
    text: str
    html: str
    to: str


def campaign_preview(*, org: Organization, campaign: Campaign, contact: Any) -> RenderedPreview:
    """The message ``contact`` would receive (links are not live: the recipient does not exist)."""
    preview = Recipient(
        pk=0, organization=org, campaign=campaign, contact=contact, email=contact.email or "no-email@invalid"
    )
    message = build_message(campaign, preview)
    html = next((body for body, kind in message.alternatives if kind == "text/html"), "")
    return RenderedPreview(
        subject=str(message.subject), text=str(message.body), html=str(html), to=preview.email
    )


def _queued(recipient_id: int) -> Any:
    return Recipient.objects.filter(pk=recipient_id, state=RecipientState.QUEUED)


def _settle(recipient: Recipient, fields: dict[str, Any]) -> bool:
    """Record an outcome for a still-queued recipient (a conditional update: the claim)."""
    return bool(_queued(recipient.pk).update(**fields))


def _failure(recipient: Recipient, error: PermanentFailure) -> dict[str, Any]:
    if error.bounce:
        Suppression.objects.bulk_create(
            [
                Suppression(
                    organization_id=recipient.organization_id,
                    email=recipient.email.lower(),
                    reason=SuppressionReason.BOUNCED,
                    campaign_id=recipient.campaign_id,
                    detail=str(error)[:500],
                )
            ],
            ignore_conflicts=True,
        )
    return {
        "state": RecipientState.FAILED,
        "attempts": recipient.attempts + 1,
        "last_error": str(error)[:500],
        "sending_since": None,
    }


def _retry(recipient: Recipient, error: str, now: datetime) -> dict[str, Any]:
    attempts = recipient.attempts + 1
    if attempts >= settings.CAMPAIGN_MAX_ATTEMPTS:
        return {"state": RecipientState.FAILED, "attempts": attempts, "last_error": error[:500]}
    delay = settings.CAMPAIGN_RETRY_BACKOFF * (2 ** (attempts - 1))
    return {
        "state": RecipientState.QUEUED,
        "attempts": attempts,
        "last_error": error[:500],
        "next_attempt_at": now + timedelta(seconds=delay),
    }


def _mark_sent_and_finish(recipient_id: int, claim: datetime, message_id: str, transport: Transport) -> bool:
    """Record the recipient as sent and send the message's final line, back to back.

    On PostgreSQL the UPDATE is written to the database connection without waiting for its
    answer, then the final ``.`` is written to the SMTP connection, then both answers are
    read. Both writes are complete (in the kernel) before either reply: a process killed
    before the first write leaves the row ``sending`` and the message unfinished (the server
    drops it; the row is queued again), and one killed after the second leaves both done,
    since the database runs an UPDATE it has received even if the client is gone. Only a
    kill between two consecutive socket writes could record a message the server never got;
    none can deliver one twice. Elsewhere (SQLite) the UPDATE commits first, then the line.
    Returns whether this sender's claim still held (the UPDATE matched its row).
    """
    params = {"pk": recipient_id, "state": RecipientState.SENDING, "sending_since": claim}
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        matched = Recipient.objects.filter(**params).update(
            state=RecipientState.SENT, sent_at=timezone.now(), sending_since=None, message_id=message_id
        )
        transport.finish()
        return bool(matched)
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    table = Recipient._meta.db_table
    sql = (
        f'UPDATE "{table}" SET state = $1, sent_at = now(), sending_since = NULL, message_id = $2 '  # noqa: S608
        "WHERE id = $3 AND state = $4 AND sending_since = $5"
    ).encode()
    values = [RecipientState.SENT, message_id, str(recipient_id), RecipientState.SENDING, claim.isoformat()]
    pgconn.send_query_params(sql, [v.encode() for v in values])
    while pgconn.flush():
        pass
    try:
        transport.finish()
    finally:
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
    if not results or results[0].status != ExecStatus.COMMAND_OK:
        message = results[0].error_message.decode(errors="replace") if results else "no result"
        raise DatabaseError(f"recording a sent message failed: {message}")
    return bool(int(results[0].command_tuples or 0))


class _Sender:
    """Sends one campaign's due recipients, one at a time, each claimed by a conditional update.

    Per message: the row moves from ``queued`` to ``sending`` (an UPDATE only one sender can
    win); the content goes to the server up to the final ``.``; then the row is recorded
    ``sent`` and the ``.`` written back to back (``_mark_sent_and_finish``). A row left
    ``sending`` by a dead sender was never finished at the server and is queued again.
    """

    def __init__(self, campaign: Campaign, transport: Transport) -> None:
        self.campaign = campaign
        self.transport = transport

    def due(self, limit: int) -> list[Recipient]:
        suppressed = Suppression.objects.filter(
            organization_id=self.campaign.organization_id, email=OuterRef("lower_email")
        )
        return list(
            Recipient.objects.filter(
                campaign_id=self.campaign.pk,
                state=RecipientState.QUEUED,
                next_attempt_at__lte=timezone.now(),
            )
            .select_related("contact", "contact__company")
            .annotate(lower_email=Lower("contact__email"))
            .annotate(suppressed=Exists(suppressed))
            .order_by("pk")[:limit]
        )

    def _undo(self, recipient: Recipient, claim: datetime, fields: dict[str, Any]) -> None:
        Recipient.objects.filter(pk=recipient.pk, state=RecipientState.SENDING, sending_since=claim).update(
            **{"sending_since": None, **fields}
        )

    def send(self, recipient: Recipient) -> str | None:
        address = recipient.contact.email if recipient.contact is not None else ""
        if not address:
            done = _settle(
                recipient, {"state": RecipientState.SKIPPED, "last_error": "the contact has no email address"}
            )
            return "skipped" if done else None
        if getattr(recipient, "suppressed", False):
            done = _settle(
                recipient,
                {"state": RecipientState.SKIPPED, "last_error": "address is on the suppression list"},
            )
            return "skipped" if done else None
        claim = timezone.now()
        if not _settle(
            recipient, {"state": RecipientState.SENDING, "sending_since": claim, "email": address}
        ):
            return None  # cancelled, or another sender has it
        recipient.email = address
        message = build_message(self.campaign, recipient)
        try:
            self.transport.stage(message)
        except PermanentFailure as error:
            self._undo(recipient, claim, _failure(recipient, error))
            return "failed"
        except TemporaryFailure as error:
            self._undo(recipient, claim, _retry(recipient, str(error), timezone.now()))
            if isinstance(error, ConnectionLost):
                raise
            return "deferred"
        message_id = str(message.extra_headers["Message-ID"])
        try:
            held = _mark_sent_and_finish(recipient.pk, claim, message_id, self.transport)
            self.transport.confirm()
        except PermanentFailure as error:
            Recipient.objects.filter(pk=recipient.pk).update(**_failure(recipient, error))
            return "failed"
        except TemporaryFailure as error:
            Recipient.objects.filter(pk=recipient.pk).update(**_retry(recipient, str(error), timezone.now()))
            if isinstance(error, ConnectionLost):
                raise
            return "deferred"
        if not held:
            logger.error(
                "campaign %s: recipient %s was re-claimed while this sender stalled",
                self.campaign.pk,
                recipient.pk,
            )
        return "sent"


@dataclass(frozen=True)
class BatchResult:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    more: bool = False
    finished: bool = False


def _take_lease(campaign_id: int, token: str, now: datetime) -> bool:
    lease = timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS)
    return bool(
        Campaign.objects.filter(pk=campaign_id, state=CampaignState.SENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_token=token))
        .update(lease_token=token, lease_until=now + lease)
    )


def _finish_if_done(campaign_id: int) -> bool:
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


FETCH = 50


def campaign_send_batch(*, campaign_id: int, limit: int | None = None) -> BatchResult:
    """Send up to ``limit`` messages of a sending campaign, one sender per campaign at a time."""
    limit = limit or settings.CAMPAIGN_BATCH_SIZE
    token = uuid.uuid4().hex
    if not _take_lease(campaign_id, token, timezone.now()):
        return BatchResult()
    campaign = Campaign.objects.select_related("organization").get(pk=campaign_id)
    counts = {"sent": 0, "failed": 0, "deferred": 0, "skipped": 0}
    transport = open_transport()
    sender = _Sender(campaign, transport)
    pacer = Pacer()
    progress = ProgressThrottle(campaign.recipients_total)
    handled = 0
    more = False
    try:
        while handled < limit:
            # Renewing the lease also re-reads the state: a pause or cancel stops the batch here.
            if handled and not _take_lease(campaign_id, token, timezone.now()):
                break
            due = sender.due(min(FETCH, limit - handled))
            if not due:
                break
            try:
                for recipient in due:
                    pacer.wait()
                    outcome = sender.send(recipient)
                    handled += 1
                    if outcome is not None:
                        counts[outcome] += 1
                    if progress.handled_one():
                        announce_progress(campaign)
            except ConnectionLost as error:
                logger.warning("campaign %s: %s; the batch stops and is retried later", campaign_id, error)
                counts["deferred"] += 1
                break
        else:
            more = True
    finally:
        transport.close()
        Campaign.objects.filter(pk=campaign_id, lease_token=token).update(lease_until=None)
    finished = False if more else _finish_if_done(campaign_id)
    if not more and not finished and progress.handled:
        # Stopped short (paused, cancelled, or only retries left): show where it stands.
        announce_progress(Campaign.objects.get(pk=campaign_id))
    return BatchResult(**counts, more=more, finished=finished)


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
            _finish_if_done(campaign_id)
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


# --- Unsubscribe, suppression, tracking -------------------------------------------------------------


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
        raise Invalid("Not an email address.", field_errors={"email": ["Enter a valid email address."]})
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
