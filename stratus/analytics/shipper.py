"""Shipping: outbox entries become rows of the analytics store.

One batch (:func:`ship_batch`):

1. Read the snapshot's ``xmin`` (every transaction with a smaller id has ended), then up to
   ``ANALYTICS_SHIP_BATCH`` entries after the stream's position, of transactions below it, in
   ``(xid, seq)`` order. An entry of a transaction still running (or one that will start) has
   an ``xid`` at or above ``xmin``, so no entry can ever appear below the position: a slow
   transaction is waited for, never skipped. (A position by ``seq`` alone would skip it: a
   transaction can take a smaller ``seq`` and commit after a larger one was shipped.)
2. Load the current rows of the changed ids; an id that is gone becomes a tombstone
   (``_deleted = 1``). Each row gets ``_version`` = the largest ``seq`` of its entries.
3. Insert them into ClickHouse, table by table.
4. In one PostgreSQL transaction: save the position and delete the entries shipped (pruning).

A worker killed between 3 and 4 sends the batch again: the same rows with the same versions,
which ``ReplacingMergeTree(_version, _deleted)`` keeps once and ``FINAL`` reads once, so
nothing counts twice. Versions follow the order of the changes of a row: two transactions
that change the same row are serialized by its row lock, and the second one's trigger takes
its ``seq`` after the first committed; the content sent is the row as committed when loaded,
never older than the version it carries.

One shipper at a time: a PostgreSQL advisory lock (another run skips, or waits when asked).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from stratus.analytics import client as analytics
from stratus.analytics.capture import XID
from stratus.analytics.models import STREAM, OutboxEntry, Stream
from stratus.analytics.schema import BY_SOURCE, DELETED, VERSION, fields, row_values, tombstone
from stratus.platform.locks import advisory_key

logger = logging.getLogger(__name__)

LOCK = "analytics-shipper"


@dataclass(frozen=True)
class Batch:
    entries: int  # outbox entries taken
    rows: int  # rows (and tombstones) inserted into the store


def _xmin() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def _pending(position: tuple[int, int], xmin: int, limit: int) -> list[tuple[int, str, int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, source, row_id, organization_id, xid FROM analytics_outbox "
            "WHERE (xid, seq) > (%s, %s) AND xid < %s ORDER BY xid, seq LIMIT %s",
            [*position, xmin, limit],
        )
        return [tuple(row) for row in cursor.fetchall()]


def ship_batch(
    store: analytics.Client, *, limit: int, after_insert: Callable[[], None] | None = None
) -> Batch:
    """Ship one batch (the caller holds the shipper's lock). ``after_insert`` runs between the
    insert into ClickHouse and the saved position (the crash tests use it)."""
    stream = Stream.objects.get(name=STREAM)
    position = (stream.position_xid, stream.position_seq)
    entries = _pending(position, _xmin(), limit)
    if not entries:
        return Batch(0, 0)
    changed: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)  # source -> id -> (org, seq)
    for seq, source, row_id, organization_id, _xid in entries:
        previous = changed[source].get(row_id)
        changed[source][row_id] = (organization_id, max(seq, previous[1] if previous else 0))
    inserted = 0
    for source, rows in changed.items():
        table = BY_SOURCE.get(source)
        if table is None:
            logger.warning("analytics: outbox entries of %s, a table not mirrored, skipped", source)
            continue
        found = {
            values[1]: values
            for values in table.model._default_manager.filter(pk__in=list(rows)).values_list(*fields(table))
        }
        batch = []
        for row_id, (organization_id, seq) in rows.items():
            current = found.get(row_id)
            if current is None:
                batch.append([*tombstone(table, organization_id, row_id), seq, 1])
            else:
                batch.append([*row_values(table, current), seq, 0])
        inserted += store.insert(table.name, (*table.names, VERSION, DELETED), batch)
    if after_insert is not None:
        after_insert()
    last_seq, last_xid = entries[-1][0], entries[-1][4]
    with transaction.atomic():
        Stream.objects.filter(name=STREAM).update(
            position_xid=last_xid,
            position_seq=last_seq,
            shipped_rows=stream.shipped_rows + inserted,
            shipped_at=timezone.now(),
        )
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM analytics_outbox WHERE (xid, seq) <= (%s, %s)", [last_xid, last_seq])
    return Batch(len(entries), inserted)


def ship_pending(
    *,
    wait: bool = False,
    max_batches: int | None = None,
    limit: int | None = None,
    after_insert: Callable[[], None] | None = None,
) -> int | None:
    """Ship batches until none is left (or ``max_batches``); the rows inserted, or None when
    another shipper holds the lock and ``wait`` is false."""
    from django.conf import settings

    if connection.vendor != "postgresql":
        return 0
    store = analytics.writer()
    size = limit or settings.ANALYTICS_SHIP_BATCH
    key = advisory_key(LOCK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)" if wait else "SELECT pg_try_advisory_lock(%s)", [key])
        if not wait and not cursor.fetchone()[0]:
            return None
    total = batches = 0
    try:
        while max_batches is None or batches < max_batches:
            batch = ship_batch(store, limit=size, after_insert=after_insert)
            batches += 1
            total += batch.rows
            if batch.entries < size:
                break
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    return total


# --- capture on and off ---------------------------------------------------------------------------


def set_capturing(on: bool) -> int:
    """Switch the triggers on or off; the current transaction id (for :func:`wait_for_writers`).
    Switching off empties the outbox: the store is then rebuilt by a backfill."""
    with transaction.atomic():
        Stream.objects.update_or_create(name=STREAM, defaults={"capturing": on})
        if not on:
            OutboxEntry.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {XID}")
            return int(cursor.fetchone()[0])


def capturing() -> bool:
    return Stream.objects.filter(name=STREAM, capturing=True).exists()


def wait_for_writers(xid: int, *, sleep: Callable[[float], None] | None = None) -> None:
    """Wait until every transaction older than ``xid`` has ended: a row such a transaction
    writes after capture was switched on may have no outbox entry, and must be committed before
    the backfill reads it."""
    import time

    pause = sleep or time.sleep
    while _xmin() <= xid:
        pause(0.2)


# --- lag ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lag:
    pending: int  # outbox entries not shipped yet (counted up to a million)
    oldest_age_seconds: float  # how long the oldest has waited (0 when none)


def lag() -> Lag:
    if connection.vendor != "postgresql":
        return Lag(0, 0.0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM analytics_outbox LIMIT 1000000) s), "
            "(SELECT extract(epoch FROM clock_timestamp() - created_at)::float8 "
            "FROM analytics_outbox ORDER BY seq LIMIT 1)"
        )
        pending, age = cursor.fetchone()
    return Lag(int(pending), max(float(age or 0.0), 0.0))
