"""What the shipper reads and where it stands, in PostgreSQL (the source of truth).

An :class:`OutboxEntry` is written by a trigger (``stratus.analytics.capture``) in the
transaction of every insert, update or delete of a mirrored row: which row of which table, in
which organization, by which transaction (``xid``, ``pg_current_xact_id()``). ``seq`` numbers
the entries; the shipper sends each changed row with ``_version = seq``.

A :class:`Stream` is the shipper's durable position: the last ``(xid, seq)`` shipped. The
shipper only reads entries of transactions older than its snapshot's ``xmin`` (every one of
them has ended, so no entry can appear later below the position), in ``(xid, seq)`` order.
``capturing`` switches the triggers on (``manage.py analytics_migrate``) and off.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

STREAM = "outbox"


class OutboxEntry(models.Model):
    seq = models.BigAutoField(primary_key=True)
    source = models.CharField(max_length=63, help_text="The changed row's table in PostgreSQL.")
    row_id = models.BigIntegerField()
    organization_id = models.BigIntegerField()
    xid = models.BigIntegerField(help_text="The writing transaction (pg_current_xact_id()).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "analytics_outbox"
        indexes: ClassVar = [models.Index(fields=["xid", "seq"], name="analytics_outbox_position")]

    def __str__(self) -> str:
        return f"{self.source} {self.row_id} (seq {self.seq})"


class Stream(models.Model):
    name = models.CharField(max_length=40, primary_key=True)
    capturing = models.BooleanField(default=False)
    position_xid = models.BigIntegerField(default=0)
    position_seq = models.BigIntegerField(default=0)
    shipped_rows = models.BigIntegerField(default=0)
    shipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "analytics_stream"

    def __str__(self) -> str:
        return self.name


class BackfillProgress(models.Model):
    """How far ``analytics_backfill`` has queued a table (for one organization, or 0: all)."""

    source = models.CharField(max_length=63)
    organization_id = models.BigIntegerField(default=0)
    next_id = models.BigIntegerField(default=0, help_text="Rows with a larger id are still to queue.")
    queued = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "analytics_backfillprogress"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["source", "organization_id"], name="analytics_backfill_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} ({self.organization_id})"
