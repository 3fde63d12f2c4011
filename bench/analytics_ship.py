"""Shipping throughput into the analytics store: changes captured by the triggers, shipped to
ClickHouse by the shipper, in rows per second; and the backfill of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench_analytics \\
    ANALYTICS_URL=chdb:///tmp/stratus-bench-chdb ANALYTICS_WRITER_URL=chdb:///tmp/stratus-bench-chdb \\
        uv run python bench/analytics_ship.py --rows 200000

On a migrated, empty database: creates one organization and ``--rows`` activities with
``bulk_create`` while capture is on (each row an outbox entry, as any write), then times
``drain()`` (the shipper until the outbox is empty). Then switches capture off, empties the
store and times ``backfill()`` of the same rows (queue ``FOR SHARE`` + ship). Prints one JSON
line. chDB runs ClickHouse in this process: the figures include ClickHouse's own work on the same
two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from stratus.analytics import client as analytics  # noqa: E402
from stratus.analytics import schema, shipper  # noqa: E402
from stratus.analytics.backfill import backfill, drain  # noqa: E402
from stratus.crm.models import Activity, ActivityKind, Contact  # noqa: E402
from testsupport.factories import make_organization  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    options = parser.parse_args()
    store = analytics.writer()
    store.command(f"DROP DATABASE IF EXISTS `{store.database}`")
    schema.migrate(store)
    shipper.set_capturing(True)
    org = make_organization("bench")
    contact = Contact.objects.create(organization=org, first_name="Bench")
    started = time.perf_counter()
    for start in range(0, options.rows, 10_000):
        Activity.objects.bulk_create(
            Activity(organization=org, kind=ActivityKind.CALL, subject=f"call {n}", contact=contact)
            for n in range(start, min(start + 10_000, options.rows))
        )
    written = time.perf_counter() - started
    started = time.perf_counter()
    drain()
    shipped = time.perf_counter() - started
    count = store.query(f"SELECT count() FROM `{store.database}`.activities FINAL")[0][0]
    shipper.set_capturing(False)
    store.command(f"TRUNCATE TABLE `{store.database}`.activities")
    started = time.perf_counter()
    backfill(tables=(schema.ACTIVITIES,), restart=True)
    backfilled = time.perf_counter() - started
    again = store.query(f"SELECT count() FROM `{store.database}`.activities FINAL")[0][0]
    print(
        json.dumps(
            {
                "rows": options.rows,
                "batch": settings.ANALYTICS_SHIP_BATCH,
                "write_with_capture_s": round(written, 2),
                "ship_s": round(shipped, 2),
                "ship_rows_per_s": round(options.rows / shipped),
                "shipped_rows_in_store": count,
                "backfill_s": round(backfilled, 2),
                "backfill_rows_per_s": round(options.rows / backfilled),
                "backfilled_rows_in_store": again,
            }
        )
    )


if __name__ == "__main__":
    main()
