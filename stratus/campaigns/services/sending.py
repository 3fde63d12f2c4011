"""Sending: batches that claim one queued recipient at a time and send it.

See ``transport`` for why a message is committed to the database between its content and
its final ``.``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone
from psycopg.pq import ExecStatus

from stratus.campaigns.models import Campaign, Recipient, RecipientState, Suppression, SuppressionReason
from stratus.campaigns.services.leases import finish_if_done, take_lease
from stratus.campaigns.services.messages import build_message
from stratus.campaigns.services.pacing import Pacer
from stratus.campaigns.services.progress import ProgressThrottle, announce_progress
from stratus.campaigns.transport import (
    ConnectionLost,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    open_transport,
)
from stratus.platform import metrics

logger = logging.getLogger(__name__)


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
        metrics.CAMPAIGN_MESSAGES_SENT.inc()  # the server accepted it, whoever records the row
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


FETCH = 50


def campaign_send_batch(*, campaign_id: int, limit: int | None = None) -> BatchResult:
    """Send up to ``limit`` messages of a sending campaign, one sender per campaign at a time."""
    limit = limit or settings.CAMPAIGN_BATCH_SIZE
    token = uuid.uuid4().hex
    if not take_lease(campaign_id, token, timezone.now()):
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
            if handled and not take_lease(campaign_id, token, timezone.now()):
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
    finished = False if more else finish_if_done(campaign_id)
    if not more and not finished and progress.handled:
        # Stopped short (paused, cancelled, or only retries left): show where it stands.
        announce_progress(Campaign.objects.get(pk=campaign_id))
    return BatchResult(**counts, more=more, finished=finished)
