"""Reads for reminders and notifications: a member sees their own; admins may list everyone's
reminders."""

from __future__ import annotations

from django.db.models import QuerySet

from stratus.accounts.models import Organization, User
from stratus.platform.errors import NotFound
from stratus.reminders.errors import ReminderCode
from stratus.reminders.models import Notification, NotificationPreference, Reminder


def reminder_list(
    *,
    org: Organization,
    actor: User,
    everyone: bool = False,
    state: str | None = None,
    activity_id: int | None = None,
    deal_id: int | None = None,
) -> QuerySet[Reminder]:
    """``actor``'s reminders in ``org`` (every user's with ``everyone``: the caller checks the role)."""
    reminders = Reminder.objects.filter(organization=org)
    if not everyone:
        reminders = reminders.filter(user=actor)
    if state:
        reminders = reminders.filter(state=state)
    if activity_id is not None:
        reminders = reminders.filter(activity_id=activity_id)
    if deal_id is not None:
        reminders = reminders.filter(deal_id=deal_id)
    return reminders


def reminder_get(*, org: Organization, actor: User, reminder_id: int, everyone: bool = False) -> Reminder:
    reminder = reminder_list(org=org, actor=actor, everyone=everyone).filter(pk=reminder_id).first()
    if reminder is None:
        raise NotFound("Reminder not found.", code=ReminderCode.NOT_FOUND)
    return reminder


def notification_list(*, org: Organization, actor: User, unread: bool = False) -> QuerySet[Notification]:
    """``actor``'s own notifications in ``org``."""
    notifications = Notification.objects.filter(organization=org, user=actor)
    return notifications.filter(read_at__isnull=True) if unread else notifications


def notification_page(
    *, org: Organization, actor: User, before: int | None, limit: int
) -> list[Notification]:
    """Up to ``limit`` of ``actor``'s notifications in ``org``, newest first, older than the
    notification ``before`` when given (keyset pages of the inbox)."""
    notifications = notification_list(org=org, actor=actor).order_by("-id")
    if before is not None:
        notifications = notifications.filter(pk__lt=before)
    return list(notifications[:limit])


def notification_unread_count(*, org: Organization, actor: User) -> int:
    return notification_list(org=org, actor=actor, unread=True).count()


def email_reminders_enabled(*, actor: User) -> bool:
    preference = NotificationPreference.objects.filter(user=actor).first()
    return bool(preference and preference.email_reminders)
