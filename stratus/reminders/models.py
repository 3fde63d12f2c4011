"""Reminders on activities and deals, and the in-app notifications they produce."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ReminderState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRED = "fired", "Fired"
    CANCELLED = "cancelled", "Cancelled"


class Reminder(models.Model):
    """Fires once at ``remind_at``: absolute, or ``offset`` before the target's due date.

    A relative reminder follows its target: when an activity's ``due_at`` or a deal's
    ``expected_close_date`` changes, ``remind_at`` is recomputed while the reminder is pending.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    activity = models.ForeignKey(
        "crm.Activity", null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    deal = models.ForeignKey(
        "crm.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    offset = models.DurationField(
        null=True, blank=True, help_text="Relative reminders: how long before the due date to fire."
    )
    remind_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the due date is unknown.")
    note = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=ReminderState.choices, default=ReminderState.PENDING)
    fired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(activity__isnull=False, deal__isnull=True)
                | Q(activity__isnull=True, deal__isnull=False),
                name="reminders_reminder_one_target",
                violation_error_message="A reminder belongs to exactly one activity or deal.",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["remind_at"], name="reminders_due_idx", condition=Q(state="pending")),
            models.Index(fields=["organization", "user", "created_at"], name="reminders_org_user_idx"),
        ]

    def __str__(self) -> str:
        return f"reminder {self.pk} at {self.remind_at}"


class EmailState(models.TextChoices):
    NONE = "none", "Not emailed"
    PENDING = "pending", "Waiting to be emailed"
    SENDING = "sending", "Being emailed"
    SENT = "sent", "Emailed"
    FAILED = "failed", "Email failed"


class Notification(models.Model):
    """An in-app message for one user; ``reminder`` is unique, so a reminder notifies once."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, default="reminder")
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    reminder = models.OneToOneField(
        Reminder, null=True, blank=True, on_delete=models.SET_NULL, related_name="notification"
    )
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.NONE)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=500, blank=True)
    email_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organization", "user", "created_at", "id"], name="notifications_list_idx"),
            models.Index(
                fields=["organization", "user"],
                name="notifications_unread_idx",
                condition=Q(read_at__isnull=True),
            ),
            models.Index(
                fields=["email_state", "created_at"],
                name="notifications_email_idx",
                condition=Q(email_state__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """A user's choice of channels (applies in every organization)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email_reminders = models.BooleanField(default=False, help_text="Also email reminders when they fire.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
