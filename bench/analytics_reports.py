"""The reports on PostgreSQL and on ClickHouse in the same run, on the same rows, 1 and N users.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_ch20 \\
      uv run python bench/analytics_reports.py --store /work/ch20/store --org bench \\
      --samples 24 --users 1 8 --out bench/results/2026-12-06-analytics-reports-20M.json

The database (``DATABASE_URL``) is one ``bench/generate.py --history`` made (with its noise
organizations beside ``--org``); the store (``--store``, a chDB folder) is the one
``manage.py analytics_backfill`` filled from it, so both engines read the same rows. For the
organization ``--org`` and the filters "the last 12 months" (up to today, UTC):

1. counts its events as the analytics issue counts them (deals created, stage stays, activities,
   each dated event of a campaign recipient, bounces), from PostgreSQL;
2. runs each report once on each engine (a warm-up) and stops if the two answers differ in
   anything (the contract's dataclasses compared whole);
3. runs each report 5 times on ClickHouse and reads this process's CPU time (chDB runs here):
   CPU ms per report and the cores it kept busy;
4. for each count of ``--users`` and each engine, runs ``bench.clickhouse_engine.measure``:
   threads of this process, each user running the six reports in turn (user u starting at the
   u-th), ``--samples / users`` rounds (rounded up), and prints p50/p95/max ms per report.

In process, no HTTP: the engines' own cost (``engines.run``). PostgreSQL serves each thread on
its own connection (side by side); chDB runs one statement of the process's reader at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EVENTS_SQL = """
SELECT
    (SELECT count(*) FROM crm_deal WHERE organization_id = %(org)s)
  + (SELECT count(*) FROM crm_dealstay WHERE organization_id = %(org)s)
  + (SELECT count(*) FROM crm_activity WHERE organization_id = %(org)s)
  + (SELECT count(sent_at) + count(opened_at) + count(clicked_at) + count(unsubscribed_at)
     FROM campaigns_recipient WHERE organization_id = %(org)s)
  + (SELECT count(*) FROM campaigns_suppression WHERE organization_id = %(org)s AND reason = 'bounced')
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="the chDB folder analytics_backfill filled")
    parser.add_argument("--org", default="bench", help="the organization's slug")
    parser.add_argument(
        "--samples", type=int, default=24, help="runs of each report per engine and user count"
    )
    parser.add_argument("--users", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--engines", nargs="+", default=["database", "clickhouse"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    url = f"chdb://{args.store.resolve()}"
    os.environ["ANALYTICS_URL"] = url
    os.environ.pop("ANALYTICS_WRITER_URL", None)  # read only, as a web replica
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
    import django

    django.setup()
    from django.db import connection

    from bench.children import emit
    from bench.clickhouse_engine import measure
    from stratus.accounts.models import Organization
    from stratus.reports import engines
    from stratus.reports.contracts import REPORTS, ReportFilters

    org = Organization.objects.get(slug=args.org)
    with connection.cursor() as cursor:
        cursor.execute(EVENTS_SQL, {"org": org.pk})
        events = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM accounts_organization")
        organizations = int(cursor.fetchone()[0])
        cursor.execute(
            EVENTS_SQL.replace("organization_id = %(org)s", "organization_id <> %(org)s"), {"org": org.pk}
        )
        other_events = int(cursor.fetchone()[0])
    today = datetime.datetime.now(datetime.UTC).date()
    filters = ReportFilters(
        organization_id=org.pk,
        as_of=datetime.datetime.now(datetime.UTC),
        date_from=today - datetime.timedelta(days=365),
        date_to=today,
    )
    print(
        f"organization {args.org} (id {org.pk}): {events} events; "
        f"{other_events} in {organizations - 1} others"
    )

    first: dict[str, dict[str, float]] = {}
    answers: dict[str, dict[str, Any]] = {}
    for engine_name in args.engines:
        engine = engines.get_engine(engine_name)
        for name in REPORTS:
            begun = time.perf_counter()
            answers.setdefault(name, {})[engine_name] = engines.run(name, filters, engine)
            first.setdefault(engine_name, {})[name] = round((time.perf_counter() - begun) * 1000, 1)
    for name, by_engine in answers.items():
        found = list(by_engine.values())
        if any(answer != found[0] for answer in found[1:]):
            for engine_name, answer in by_engine.items():
                print(engine_name, json.dumps(dataclasses.asdict(answer), default=str)[:2000])
            raise SystemExit(f"the engines answer the {name} report differently")
    print("the engines agree on every report; first runs (ms):", first)

    # chDB runs in this process: its CPU is the process's. Per report, 5 runs one after another:
    # wall and CPU ms each, and the cores it kept busy (CPU / wall).
    cpu: dict[str, dict[str, float]] = {}
    if "clickhouse" in args.engines:
        engine = engines.get_engine("clickhouse")
        for name in REPORTS:
            before, begun = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            for _ in range(5):
                engines.run(name, filters, engine)
            after, wall = resource.getrusage(resource.RUSAGE_SELF), (time.perf_counter() - begun) / 5
            used = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / 5
            cpu[name] = {
                "wall_ms": round(wall * 1000, 1),
                "cpu_ms": round(used * 1000, 1),
                "cores": round(used / wall, 2),
            }
        print("clickhouse, one caller, CPU of this process per report:", cpu)

    results: dict[str, dict[str, Any]] = {}
    for users in args.users:
        for engine_name in args.engines:
            load = os.getloadavg()
            figures = measure(users, -(-args.samples // users), filters, engine_name)
            results.setdefault(str(users), {})[engine_name] = {"load_before": load, "reports": figures}
            for name, row in figures.items():
                print(f"{users} users", engine_name, name, row, flush=True)
    document = {
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_end": os.getloadavg()},
        "organization": org.pk,
        "events": events,
        "other_organizations": organizations - 1,
        "other_events": other_events,
        "filters": f"{filters.date_from} to {filters.date_to} (the last 12 months), "
        "no pipeline, owner or currency",
        "equal_answers": True,
        "first_run_ms": first,
        "clickhouse_cpu_one_caller": cpu,
        "by_users": results,
    }
    emit(document, args.out)


if __name__ == "__main__":
    main()
