"""The event log in the database: used when there is no Redis (the embedded default).

Any process (the web process, the Celery worker) appends; the web process reads new rows
for its sockets (``DatabaseEventStore.poll``). With Redis the log lives in Redis streams
and these tables stay empty.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class EventCounter(models.Model):
    """The last sequence id given out per organization."""

    organization_id = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"organization {self.organization_id}: {self.seq}"


class LoggedEvent(models.Model):
    # A plain id, not a foreign key: the log is transient and must never block a delete.
    organization_id = models.BigIntegerField()
    seq = models.BigIntegerField()
    text = models.TextField()
    recipient = models.BigIntegerField(null=True, blank=True)  # a user id: that user's sockets only
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization_id", "seq"], name="realtime_event_seq_unique")
        ]

    def __str__(self) -> str:
        return f"organization {self.organization_id} #{self.seq}"
