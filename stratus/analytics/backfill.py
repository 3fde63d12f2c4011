"""Rebuilding the store from PostgreSQL, while the app keeps running.

The backfill does not write to ClickHouse itself: it queues an outbox entry for every row (in
id order, a chunk per short transaction) and the shipper sends them. So a backfilled row gets
its ``_version`` from the same sequence as every change, and the argument that makes the
shipper right (see ``shipper``) holds for it too. The chunk's rows are read ``FOR SHARE``: a
transaction changing one of them either committed before (the chunk ships its new content) or
waits for the chunk and takes a larger ``seq`` (its own entry wins). Writing versions "older than
the outbox's" straight into ClickHouse could not be made right: a running transaction may
already hold a smaller ``seq`` than any bound read when the backfill starts.

Resumable: each table's progress (the last id queued, per organization or for all) is a row in
PostgreSQL; an interrupted run goes on from there, a finished one starts again from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from stratus.analytics import shipper
from stratus.analytics.capture import XID
from stratus.analytics.models import BackfillProgress
from stratus.analytics.schema import TABLES, Table

_QUEUE_SQL = """
INSERT INTO analytics_outbox (source, row_id, organization_id, xid, created_at)
SELECT %s, chunk.id, chunk.organization_id, {xid}, clock_timestamp() FROM (
    SELECT id, organization_id FROM {source} WHERE id > %s{scope} ORDER BY id LIMIT %s FOR SHARE
) chunk
RETURNING row_id
"""


@dataclass(frozen=True)
class Step:
    table: Table
    done: int  # rows queued so far for this table
    total: int  # rows of this table (counted when the table began)


def _scope(organization_id: int | None) -> tuple[str, list[int]]:
    if organization_id is None:
        return "", []
    return " AND organization_id = %s", [organization_id]


def _count(table: Table, after: int, organization_id: int | None) -> int:
    rows = table.model._default_manager.filter(pk__gt=after)
    if organization_id is not None:
        rows = rows.filter(organization_id=organization_id)
    return rows.count()


def backfill(
    *,
    organization_id: int | None = None,
    tables: tuple[Table, ...] = TABLES,
    chunk: int = 10_000,
    restart: bool = False,
    progress: Callable[[Step], None] | None = None,
    ship: bool = True,
) -> int:
    """Queue every row of ``tables`` (of one organization, or all) and ship as it goes; the
    number of rows queued."""
    shipper.wait_for_writers(shipper.set_capturing(True))
    key = organization_id or 0
    queued_total = 0
    for table in tables:
        state, _ = BackfillProgress.objects.get_or_create(source=table.source, organization_id=key)
        if restart or state.finished_at is not None:
            state.next_id, state.queued, state.finished_at, state.started_at = 0, 0, None, timezone.now()
            state.save()
        total = state.queued + _count(table, state.next_id, organization_id)
        scope, params = _scope(organization_id)
        statement = _QUEUE_SQL.format(xid=XID, source=table.source, scope=scope)
        if progress is not None:
            progress(Step(table, state.queued, total))
        while True:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(statement, [table.source, state.next_id, *params, chunk])
                    ids = [row[0] for row in cursor.fetchall()]
                if ids:
                    state.next_id = max(ids)
                    state.queued += len(ids)
                if len(ids) < chunk:
                    state.finished_at = timezone.now()
                state.save(update_fields=["next_id", "queued", "finished_at"])
            queued_total += len(ids)
            if progress is not None:
                progress(Step(table, state.queued, max(total, state.queued)))
            if ship:
                shipper.ship_pending(wait=True)
            if len(ids) < chunk:
                break
    if ship:
        drain()
    return queued_total


def drain() -> None:
    """Ship until every entry committed before now is in the store."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {XID}")  # a new transaction id: larger than every one before
        now = int(cursor.fetchone()[0])
    shipper.wait_for_writers(now)
    shipper.ship_pending(wait=True)
