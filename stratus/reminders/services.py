"""Writes for reminders and notifications.

A reminder fires in the same transaction that creates its notification: the sweep claims
due rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent sweeps (several beats,
several workers) take disjoint rows, and a sweep killed halfway rolls back and leaves its
rows for the next one. ``Notification.reminder`` is unique, so even a bug could not notify
twice for one reminder.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, User
from stratus.crm.models import Activity, Deal
from stratus.platform.errors import Conflict, Invalid, NotFound
from stratus.platform.locks import lock_row
from stratus.platform.unset import UNSET, Unset
from stratus.realtime.events import publish
from stratus.realtime.payloads import NotificationCreated
from stratus.reminders.errors import ReminderCode
from stratus.reminders.models import (
    EmailState,
    Notification,
    NotificationPreference,
    Reminder,
    ReminderState,
)

logger = logging.getLogger(__name__)

# A deal's expected close date is a day; relative reminders count back from this time of it.
DEAL_DUE_TIME = time(9, 0)
MAX_OFFSET = timedelta(days=366)
EMAIL_MAX_ATTEMPTS = 5


def deal_due_at(day: date | None) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, DEAL_DUE_TIME, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _due_at(activity: Activity | None, deal: Deal | None) -> datetime | None:
    if activity is not None:
        return activity.due_at
    assert deal is not None
    return deal_due_at(deal.expected_close_date)


def _remind_at(reminder: Reminder) -> datetime | None:
    if reminder.offset is None:
        return reminder.remind_at
    due = _due_at(reminder.activity, reminder.deal)
    return None if due is None else due - reminder.offset


def _validate_timing(remind_at: datetime | None, offset: timedelta | None) -> None:
    if (remind_at is None) == (offset is None):
        raise Invalid(
            "Give either remind_at (a time) or offset (before the due date), not both.",
            field_errors={
                "remind_at": ["Give remind_at or offset."],
                "offset": ["Give remind_at or offset."],
            },
            code=ReminderCode.TIMING_INVALID,
        )
    if offset is not None and not (timedelta(0) <= offset <= MAX_OFFSET):
        raise Invalid(
            "The offset must be between 0 and 366 days.",
            field_errors={"offset": ["Must be between 0 and 366 days before the due date."]},
            code=ReminderCode.TIMING_INVALID,
        )


@transaction.atomic
def reminder_create(
    *,
    org: Organization,
    actor: User,
    activity: Activity | None = None,
    deal: Deal | None = None,
    remind_at: datetime | None = None,
    offset: timedelta | None = None,
    user: User | None = None,
    note: str = "",
) -> Reminder:
    if (activity is None) == (deal is None):
        raise Invalid(
            "A reminder belongs to exactly one activity or deal.",
            field_errors={"activity": ["Give activity or deal."], "deal": ["Give activity or deal."]},
            code=ReminderCode.TARGET_REQUIRED,
        )
    target = activity or deal
    assert target is not None
    if target.organization_id != org.pk:
        field = "activity" if activity is not None else "deal"
        raise Invalid(
            "Unknown record.",
            field_errors={field: ["Not found in this organization."]},
            code=ReminderCode.UNKNOWN_RECORD,
        )
    _validate_timing(remind_at, offset)
    if user is None:
        user = (
            activity.assignee if activity is not None else deal.owner if deal is not None else None
        ) or actor
    if not Membership.objects.filter(organization=org, user=user).exists():
        raise Invalid(
            "The user is not a member of this organization.",
            field_errors={"user": ["Not a member."]},
            code=ReminderCode.NOT_A_MEMBER,
        )
    reminder = Reminder(
        organization=org,
        activity=activity,
        deal=deal,
        user=user,
        remind_at=remind_at,
        offset=offset,
        note=note.strip(),
        created_by=actor,
    )
    reminder.remind_at = _remind_at(reminder)
    reminder.save()
    return reminder


@transaction.atomic
def reminder_update(
    *,
    org: Organization,
    reminder: Reminder,
    remind_at: datetime | Unset | None = UNSET,
    offset: timedelta | Unset | None = UNSET,
    note: str | Unset = UNSET,
) -> Reminder:
    """Change a pending reminder. A time or an offset replaces the timing (the other becomes
    None); null for both leaves the timing as it is."""
    reminder = lock_row(
        Reminder.objects.filter(organization=org).select_related("activity", "deal"),
        pk=reminder.pk,
        label="Reminder",
    )
    if reminder.state != ReminderState.PENDING:
        raise Conflict(
            f"A {reminder.state} reminder cannot be changed.",
            field_errors={"state": [reminder.state]},
            code=ReminderCode.INVALID_STATE,
        )
    new_remind_at = None if remind_at is UNSET else remind_at
    new_offset = None if offset is UNSET else offset
    if new_remind_at is not None or new_offset is not None:
        _validate_timing(new_remind_at, new_offset)
        reminder.offset = new_offset
        reminder.remind_at = new_remind_at
        reminder.remind_at = _remind_at(reminder)
    if note is not UNSET:
        reminder.note = note.strip()
    reminder.save()
    return reminder


@transaction.atomic
def reminder_cancel(*, org: Organization, reminder: Reminder) -> Reminder:
    reminder = lock_row(Reminder.objects.filter(organization=org), pk=reminder.pk, label="Reminder")
    if reminder.state == ReminderState.FIRED:
        raise Conflict(
            "The reminder has already fired.",
            field_errors={"state": ["fired"]},
            code=ReminderCode.INVALID_STATE,
        )
    reminder.state = ReminderState.CANCELLED
    reminder.save(update_fields=["state", "updated_at"])
    return reminder


def reminders_follow_activity(*, activity: Activity) -> int:
    """Keep pending reminders in step with their activity (called after it is saved)."""
    pending = Reminder.objects.filter(activity=activity, state=ReminderState.PENDING)
    if activity.done:
        return pending.update(state=ReminderState.CANCELLED, updated_at=timezone.now())
    changed = 0
    for reminder in pending.filter(offset__isnull=False):
        assert reminder.offset is not None
        remind_at = None if activity.due_at is None else activity.due_at - reminder.offset
        if remind_at != reminder.remind_at:
            changed += Reminder.objects.filter(pk=reminder.pk, state=ReminderState.PENDING).update(
                remind_at=remind_at, updated_at=timezone.now()
            )
    return changed


def reminders_follow_deal(*, deal: Deal) -> int:
    due = deal_due_at(deal.expected_close_date)
    changed = 0
    for reminder in Reminder.objects.filter(deal=deal, state=ReminderState.PENDING, offset__isnull=False):
        assert reminder.offset is not None
        remind_at = None if due is None else due - reminder.offset
        if remind_at != reminder.remind_at:
            changed += Reminder.objects.filter(pk=reminder.pk, state=ReminderState.PENDING).update(
                remind_at=remind_at, updated_at=timezone.now()
            )
    return changed


# --- Firing -----------------------------------------------------------------------------------------


def _notification_text(reminder: Reminder) -> tuple[str, str, str, int]:
    if reminder.activity is not None:
        activity = reminder.activity
        due = f" (due {activity.due_at:%Y-%m-%d %H:%M %Z})" if activity.due_at else ""
        title = f"Reminder: {activity.subject}{due}"
        return title[:300], reminder.note, "activity", activity.pk
    deal = reminder.deal
    assert deal is not None
    closing = f" (expected to close {deal.expected_close_date:%Y-%m-%d})" if deal.expected_close_date else ""
    return f"Reminder: deal {deal.title}{closing}"[:300], reminder.note, "deal", deal.pk


def notification_payload(notification: Notification) -> NotificationCreated:
    return {
        "id": notification.pk,
        "user_id": notification.user_id,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "target_type": notification.target_type,
        "target_id": notification.target_id,
        "reminder_id": notification.reminder_id,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
    }


def _fire_batch(now: datetime, batch_size: int) -> tuple[int, list[int]]:
    """Fire up to ``batch_size`` due reminders in one transaction; returns (fired, emails)."""
    with transaction.atomic():
        due = list(
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("activity", "deal")
            .filter(state=ReminderState.PENDING, remind_at__lte=now)
            .order_by("remind_at", "pk")[:batch_size]
        )
        if not due:
            return 0, []
        wants_email = set(
            NotificationPreference.objects.filter(
                user_id__in={r.user_id for r in due}, email_reminders=True
            ).values_list("user_id", flat=True)
        )
        done = [r.pk for r in due if r.activity is not None and r.activity.done]
        firing = [r for r in due if r.pk not in set(done)]
        notifications = []
        for reminder in firing:
            title, body, target_type, target_id = _notification_text(reminder)
            notifications.append(
                Notification(
                    organization_id=reminder.organization_id,
                    user_id=reminder.user_id,
                    kind="reminder",
                    title=title,
                    body=body,
                    target_type=target_type,
                    target_id=target_id,
                    reminder=reminder,
                    email_state=EmailState.PENDING if reminder.user_id in wants_email else EmailState.NONE,
                    created_at=now,
                )
            )
        created = Notification.objects.bulk_create(notifications)
        Reminder.objects.filter(pk__in=[r.pk for r in firing]).update(
            state=ReminderState.FIRED, fired_at=now, updated_at=now
        )
        if done:
            Reminder.objects.filter(pk__in=done).update(state=ReminderState.CANCELLED, updated_at=now)
        for notification in created:
            publish(
                organization_id=notification.organization_id,
                event="notification.created",
                data=notification_payload(notification),
                user_id=notification.user_id,  # a notification is for its user's sockets only
            )
        emails = [n.pk for n in created if n.email_state == EmailState.PENDING]
        return len(created), emails


def reminders_fire_due(
    *, now: datetime | None = None, batch_size: int = 500, limit: int | None = None
) -> int:
    """Fire every due pending reminder (in batches); returns how many fired."""
    from stratus.celery import enqueue_on_commit
    from stratus.reminders import tasks

    now = now or timezone.now()
    fired = 0
    while limit is None or fired < limit:
        count, emails = _fire_batch(now, batch_size)
        if emails:
            with transaction.atomic():
                for notification_id in emails:
                    enqueue_on_commit(tasks.send_email, notification_id)
        fired += count
        if count < batch_size:
            # A batch smaller than asked for may also mean rows locked by another sweep.
            if not Reminder.objects.filter(state=ReminderState.PENDING, remind_at__lte=now).exists():
                break
            if count == 0:
                break
    return fired


# --- Notifications --------------------------------------------------------------------------------


def _own_notification(org: Organization, actor: User, notification_id: int) -> Notification:
    """One of ``actor``'s own notifications in ``org``, locked; another person's is not found."""
    notification = (
        Notification.objects.select_for_update()
        .filter(organization=org, user=actor, pk=notification_id)
        .first()
    )
    if notification is None:
        raise NotFound("Not found.", code=ReminderCode.NOT_FOUND)
    return notification


@transaction.atomic
def notification_mark_read(*, org: Organization, actor: User, notification_id: int) -> Notification:
    notification = _own_notification(org, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notification_mark_unread(*, org: Organization, actor: User, notification_id: int) -> Notification:
    notification = _own_notification(org, actor, notification_id)
    notification.read_at = None
    notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, org: Organization, actor: User) -> int:
    return Notification.objects.filter(organization=org, user=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )


@transaction.atomic
def notification_preference_set(*, actor: User, email_reminders: bool) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(
        user=actor, defaults={"email_reminders": email_reminders}
    )
    return preference


def notification_send_email(*, notification_id: int) -> str:
    """Email one notification at most once: it is marked ``sending`` before the attempt."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(pk=notification_id, email_state=EmailState.PENDING)
            .first()
        )
        if notification is None:
            return "nothing to do"
        notification.email_state = EmailState.SENDING
        notification.email_since = timezone.now()
        notification.email_attempts += 1
        notification.save(update_fields=["email_state", "email_since", "email_attempts"])
    link = f"{settings.PUBLIC_BASE_URL}/"
    body = "\n\n".join(
        part for part in (notification.title, notification.body, f"Open Stratus: {link}") if part
    )
    try:
        send_mail(
            subject=notification.title,
            message=body + "\n",
            from_email=None,
            recipient_list=[notification.user.email],
        )
    except smtplib.SMTPRecipientsRefused as error:
        notification.email_state, notification.email_error = EmailState.FAILED, str(error)[:500]
    except (OSError, smtplib.SMTPException) as error:
        retry = notification.email_attempts < EMAIL_MAX_ATTEMPTS
        notification.email_state = EmailState.PENDING if retry else EmailState.FAILED
        notification.email_error = str(error)[:500]
    else:
        notification.email_state, notification.email_error = EmailState.SENT, ""
    notification.save(update_fields=["email_state", "email_error"])
    return str(notification.email_state)


def notifications_email_sweep(
    *, now: datetime | None = None, stuck_after: timedelta = timedelta(minutes=10)
) -> int:
    """Send pending notification emails whose task was lost; give up on interrupted ones."""
    now = now or timezone.now()
    Notification.objects.filter(email_state=EmailState.SENDING, email_since__lt=now - stuck_after).update(
        email_state=EmailState.FAILED,
        email_error="interrupted while sending; not sent again to avoid a duplicate",
    )
    sent = 0
    for notification_id in Notification.objects.filter(email_state=EmailState.PENDING).values_list(
        "pk", flat=True
    )[:1000]:
        if notification_send_email(notification_id=notification_id) == EmailState.SENT:
            sent += 1
    return sent
