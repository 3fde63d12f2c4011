"""Email campaigns: segments, campaigns, one row per recipient, the suppression list."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Segment(models.Model):
    """A saved filter over contacts (the CRM's filter vocabulary), previewable with a count."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    filters = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "name"], name="campaigns_segment_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.CharField(max_length=300)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=CampaignState.choices, default=CampaignState.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipients_total = models.PositiveIntegerField(default=0)
    # One sender per campaign at a time: a batch task holds this lease while it sends.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["state", "scheduled_at"], name="campaigns_state_idx")]

    def __str__(self) -> str:
        return self.name


class RecipientState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Recipient(models.Model):
    """One contact of one campaign. The unique constraint is what stops a second message."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey("crm.Contact", null=True, on_delete=models.SET_NULL, related_name="+")
    email = models.EmailField()
    state = models.CharField(max_length=10, choices=RecipientState.choices, default=RecipientState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    clicked_at = models.DateTimeField(null=True, blank=True)
    click_count = models.PositiveIntegerField(default=0)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaigns_recipient_unique"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["campaign", "state", "next_attempt_at"], name="campaigns_recipient_due_idx"),
            models.Index(
                fields=["state", "sending_since"],
                name="campaigns_recipient_stuck_idx",
                condition=Q(state="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    MANUAL = "manual", "Added by a user"


class Suppression(models.Model):
    """An address of one organization that no campaign may email again."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(help_text="Stored in lower case.")
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "email"], name="campaigns_suppression_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"


class SendThrottle(models.Model):
    """One row: the next free sending slot, shared by every worker (cluster-wide rate limit)."""

    next_slot_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"next sending slot {self.next_slot_at}"


class CampaignDay(models.Model):
    """Recipients of a campaign whose event (``metric``) happened on a UTC day.

    ``delivered`` counts ``sent_at``, ``opened`` ``opened_at`` (the first open), ``clicked``
    ``clicked_at`` and ``unsubscribed`` ``unsubscribed_at``: a recipient counts once per event,
    however often it repeats. Kept by database triggers on ``Recipient`` in the same statement
    as the sender's and the tracking endpoints' updates (``stratus.campaigns.counters``).
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    metric = models.CharField(max_length=12)
    total = models.IntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "campaign", "day", "metric"], name="campaigns_campaignday_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day} {self.metric}: {self.total}"


class CampaignStateCount(models.Model):
    """Recipients of a campaign in each state, kept by the same triggers as ``CampaignDay``."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10)
    total = models.IntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "campaign", "state"], name="campaigns_campaignstate_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.state}: {self.total}"
