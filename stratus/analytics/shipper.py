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
   PostgreSQL does it (``schema.rows_sql``): one statement per table over the batch's range
   ``(position, last]`` returns the rows already written as ``JSONCompactEachRow`` lines, joined
   into one body; Python only appends the e-mail hashes.
3. Insert them into ClickHouse, table by table (one INSERT of that body per table).
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
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from stratus.analytics import client as analytics
from stratus.analytics import schema
from stratus.analytics.capture import XID
from stratus.analytics.models import STREAM, OutboxEntry, Stream
from stratus.analytics.schema import BY_SOURCE, Table
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


_BATCH_SQL = """
SELECT count(*), max(ARRAY[xid, seq]), array_agg(DISTINCT source)
FROM (
    SELECT xid, seq, source FROM analytics_outbox
    WHERE (xid, seq) > (%s, %s) AND xid < %s ORDER BY xid, seq LIMIT %s
) batch
"""


def _pending(position: tuple[int, int], xmin: int, limit: int) -> tuple[int, tuple[int, int], list[str]]:
    """The batch: how many entries, the last one's ``(xid, seq)``, the tables they change."""
    with connection.cursor() as cursor:
        cursor.execute(_BATCH_SQL, [*position, xmin, limit])
        count, last, sources = cursor.fetchone()  # last: the largest (xid, seq), arrays compare so
    if not count:
        return 0, position, []
    return int(count), (int(last[0]), int(last[1])), sorted(sources)


def _rows(table: Table, position: tuple[int, int], last: tuple[int, int]) -> tuple[bytes, int]:
    """The store rows of ``table`` for the batch, as one ``JSONCompactEachRow`` body: PostgreSQL
    builds every line (one round trip); Python only appends the columns it computes."""
    parameters: dict[str, int | str] = {
        "after_xid": position[0],
        "after_seq": position[1],
        "last_xid": last[0],
        "last_seq": last[1],
        "source": table.source,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # A batch is small work for one backend: parallel workers would only add processes on
        # a database server busy with the app.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        if any(schema.in_python(column) for column in table.columns):
            cursor.execute(schema.rows_sql(table), parameters)
            lines = []
            for built, *values in cursor.fetchall():
                computed = ",".join(str(value) for value in schema.python_values(table, tuple(values)))
                lines.append(f"{built[:-1]},{computed}]")
            return "\n".join(lines).encode(), len(lines)
        whole = f"SELECT string_agg(line, E'\\n'), count(*) FROM ({schema.rows_sql(table)}) rows(line)"  # noqa: S608
        cursor.execute(whole, parameters)
        body, count = cursor.fetchone()
    return (body or "").encode(), int(count)


def ship_batch(
    store: analytics.Client, *, limit: int, after_insert: Callable[[], None] | None = None
) -> Batch:
    """Ship one batch (the caller holds the shipper's lock). ``after_insert`` runs between the
    insert into ClickHouse and the saved position (the crash tests use it)."""
    stream = Stream.objects.get(name=STREAM)
    position = (stream.position_xid, stream.position_seq)
    entries, last, sources = _pending(position, _xmin(), limit)
    if not entries:
        return Batch(0, 0)
    inserted = 0
    for source in sources:
        table = BY_SOURCE.get(source)
        if table is None:
            logger.warning("analytics: outbox entries of %s, a table not mirrored, skipped", source)
            continue
        body, count = _rows(table, position, last)
        if count:
            inserted += store.insert_raw(table.name, schema.insert_columns(table), body, count)
    if after_insert is not None:
        after_insert()
    with transaction.atomic():
        Stream.objects.filter(name=STREAM).update(
            position_xid=last[0],
            position_seq=last[1],
            shipped_rows=F("shipped_rows") + inserted,
            shipped_at=timezone.now(),
        )
        with connection.cursor() as cursor:
            # The entries up to the position are gone (deleted with it), so the batch's range is
            # every entry to delete: a range the index answers, whatever the table's statistics.
            cursor.execute(
                "DELETE FROM analytics_outbox WHERE (xid, seq) > (%s, %s) AND (xid, seq) <= (%s, %s)",
                [*position, *last],
            )
    return Batch(entries, inserted)


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


_OLDER_TRANSACTIONS_SQL = """
SELECT count(*) FROM pg_stat_activity
WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND pid <> pg_backend_pid() AND xact_start < %s
"""


def capturing() -> bool:
    return Stream.objects.filter(name=STREAM, capturing=True).exists()


def wait_for_writers(xid: int, *, sleep: Callable[[float], None] | None = None) -> None:
    """Wait until every transaction older than ``xid`` has ended (their entries are then all
    shippable)."""
    pause = sleep or time.sleep
    while _xmin() <= xid:
        pause(0.2)


def wait_for_capture(xid: int, *, sleep: Callable[[float], None] | None = None) -> None:
    """After capture was switched on by transaction ``xid``: wait until every older transaction
    has ended, and every transaction of this database that had begun by now. One of them may
    have read the switch still off and written a row with no outbox entry, which must be
    committed before the backfill reads it."""
    pause = sleep or time.sleep
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        started = cursor.fetchone()[0]
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_OLDER_TRANSACTIONS_SQL, [started])
            older = int(cursor.fetchone()[0])
        if not older and _xmin() > xid:
            return
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
