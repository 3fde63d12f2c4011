"""The work that must happen, across every organization: what an operator is paged on.

These are the monitoring's selectors (read-only, all organizations at once); each is one
aggregate query on an indexed column.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Min

from stratus.campaigns.models import CampaignState, Recipient, RecipientState
from stratus.imports.models import ImportJob, ImportState
from stratus.reminders.models import Reminder, ReminderState


@dataclass(frozen=True)
class DueReminders:
    count: int
    oldest_age_seconds: float


def reminders_due_unsent(*, now: datetime.datetime) -> DueReminders:
    """Pending reminders whose time has come (the beat sweep should have fired them)."""
    due = Reminder.objects.filter(state=ReminderState.PENDING, remind_at__lte=now).aggregate(
        count=Count("pk"), oldest=Min("remind_at")
    )
    oldest = due["oldest"]
    return DueReminders(
        count=due["count"], oldest_age_seconds=(now - oldest).total_seconds() if oldest else 0.0
    )


def campaign_messages_pending() -> int:
    """Messages of sending campaigns not handed to the mail server yet."""
    return Recipient.objects.filter(
        campaign__state=CampaignState.SENDING, state__in=[RecipientState.QUEUED, RecipientState.SENDING]
    ).count()


def imports_running() -> int:
    return ImportJob.objects.filter(state__in=[ImportState.QUEUED, ImportState.RUNNING]).count()


def search_index_backlog() -> int:
    """Outbox entries of the search index not indexed yet (each is one change of one record)."""
    from stratus.knowledge.models import OutboxEntry

    return OutboxEntry.objects.count()
