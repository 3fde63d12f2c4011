"""Shipping throughput into the analytics store: changes captured by the triggers, shipped to
ClickHouse by the shipper, in rows per second; and the backfill of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench_analytics \\
    ANALYTICS_URL=chdb:///tmp/stratus-bench-chdb ANALYTICS_WRITER_URL=chdb:///tmp/stratus-bench-chdb \\
        uv run python bench/analytics_ship.py --rows 200000

On a migrated, empty database: creates one organization and ``--rows`` activities, each with
the outbox entry the capture trigger writes (source, id, organization, the writing transaction),
then times ``drain()`` (the shipper until the outbox is empty). Then switches capture off,
empties the store and times ``backfill()`` of the same rows (queue ``FOR SHARE`` + ship). Prints
one JSON line: wall time, rows per second, CPU seconds of this process (Python and chDB's
threads: ClickHouse runs here) and of its PostgreSQL backend per 100k rows (parallel query off,
so the backend does all of PostgreSQL's work), and the load average.

The rows are written by SQL (``INSERT ... SELECT generate_series``, 100k rows a transaction)
with the triggers off (``session_replication_role = replica``, a superuser's setting), and the
outbox entries by one ``INSERT ... SELECT`` in the same transaction: the entries the trigger
would write, without the app's other triggers (counters, search) that make ``bulk_create``
slow. ``--orm`` writes them with ``bulk_create`` and capture on instead. ``--profile FILE``
keeps a cProfile of the shipping.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from stratus.accounts.models import Organization, User  # noqa: E402
from stratus.analytics import client as analytics  # noqa: E402
from stratus.analytics import schema, shipper  # noqa: E402
from stratus.analytics.backfill import backfill, drain  # noqa: E402
from stratus.crm.models import Activity, ActivityKind, Contact  # noqa: E402
from testsupport.factories import make_organization  # noqa: E402

CHUNK = 100_000

_ACTIVITIES_SQL = """
INSERT INTO crm_activity (created_at, updated_at, kind, subject, body, due_at, done, done_at,
                          organization_id, contact_id)
SELECT t, t, (ARRAY['task', 'call', 'meeting', 'note'])[1 + n %% 4], 'activity ' || n, '',
       CASE WHEN n %% 4 = 0 THEN t + interval '3 days' END, n %% 3 = 0,
       CASE WHEN n %% 3 = 0 THEN t + interval '1 hour' END, %(org)s, %(contact)s
FROM (SELECT n, now() - make_interval(mins => n) AS t FROM generate_series(%(start)s, %(stop)s) n) g
"""

_OUTBOX_SQL = """
INSERT INTO analytics_outbox (source, row_id, organization_id, xid, created_at)
SELECT 'crm_activity', id, organization_id, pg_current_xact_id()::text::bigint, clock_timestamp()
FROM crm_activity WHERE id > %s ORDER BY id
"""


def _generate_sql(org_id: int, contact_id: int, rows: int) -> None:
    for start in range(0, rows, CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) FROM crm_activity")
            last = cursor.fetchone()[0]
            cursor.execute("SET LOCAL session_replication_role = replica")
            stop = min(start + CHUNK, rows) - 1
            cursor.execute(
                _ACTIVITIES_SQL, {"org": org_id, "contact": contact_id, "start": start, "stop": stop}
            )
            cursor.execute(_OUTBOX_SQL, [last])


def _generate_orm(org: Organization, contact: Contact, rows: int) -> None:
    for start in range(0, rows, 10_000):
        Activity.objects.bulk_create(
            Activity(organization=org, kind=ActivityKind.CALL, subject=f"call {n}", contact=contact)
            for n in range(start, min(start + 10_000, rows))
        )


def _backend_cpu() -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend (same machine)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """Wall and CPU time of a step: this process (Python, chDB) and its PostgreSQL backend."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu, self.pg = time.perf_counter(), time.process_time(), _backend_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.pg = _backend_cpu() - self.pg


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--orm", action="store_true", help="bulk_create with capture on (slow)")
    parser.add_argument("--profile", help="write a cProfile of the shipping to this file")
    parser.add_argument("--no-backfill", action="store_true")
    options = parser.parse_args()
    with connection.cursor() as cursor:  # all of PostgreSQL's work in the one backend measured
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    store = analytics.writer()
    store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
    schema.migrate(store)
    shipper.set_capturing(True)
    owner = User.objects.create_user(f"bench-{uuid.uuid4().hex}@example.com")  # any earlier run's
    org = make_organization("bench", owner=owner)
    contact = Contact.objects.create(organization=org, first_name="Bench")
    load = [os.getloadavg()[0]]
    with Timed() as written:
        if options.orm:
            _generate_orm(org, contact, options.rows)
        else:
            _generate_sql(org.pk, contact.pk, options.rows)
    rows = Activity.objects.filter(organization=org).count()
    load.append(os.getloadavg()[0])
    profile = cProfile.Profile() if options.profile else None
    with Timed() as shipped:
        if profile is not None:
            profile.enable()
        drain()
        if profile is not None:
            profile.disable()
    if profile is not None:
        profile.dump_stats(options.profile)
    load.append(os.getloadavg()[0])
    count = store.query(f"SELECT count() FROM `{store.database}`.activities FINAL")[0][0]
    result = {
        "rows": rows,
        "batch": settings.ANALYTICS_SHIP_BATCH,
        "write_s": round(written.wall, 2),
        "ship_s": round(shipped.wall, 2),
        "ship_rows_per_s": round(rows / shipped.wall),
        "ship_cpu_s_per_100k": round(shipped.cpu * 100_000 / rows, 2),
        "ship_pg_cpu_s_per_100k": round(shipped.pg * 100_000 / rows, 2),
        "shipped_rows_in_store": count,
    }
    if not options.no_backfill:
        shipper.set_capturing(False)
        store.command(f"TRUNCATE TABLE `{store.database}`.activities")
        with Timed() as backfilled:
            backfill(tables=(schema.ACTIVITIES,), restart=True)
        load.append(os.getloadavg()[0])
        again = store.query(f"SELECT count() FROM `{store.database}`.activities FINAL")[0][0]
        every = Activity.objects.count()  # the backfill copies the table: earlier runs' rows too
        result |= {
            "backfilled_rows": every,
            "backfill_s": round(backfilled.wall, 2),
            "backfill_rows_per_s": round(every / backfilled.wall),
            "backfill_cpu_s_per_100k": round(backfilled.cpu * 100_000 / every, 2),
            "backfill_pg_cpu_s_per_100k": round(backfilled.pg * 100_000 / every, 2),
            "backfilled_rows_in_store": again,
        }
    result["load_1min"] = [round(value, 2) for value in load]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
