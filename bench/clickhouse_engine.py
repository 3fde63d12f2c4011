# ruff: noqa: E501 - the generating SQL reads better unwrapped
"""The ClickHouse reports engine alone, in process, on a chDB store filled with synthetic rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_h6 \\
      nice uv run python bench/clickhouse_engine.py --store /tmp/chbench --deals 2400000 --samples 24 \\
      --users 1 8 --out bench/results/2026-12-06-clickhouse-engine-20M.json

Fills the mirror tables of ``stratus.analytics.schema`` straight in ClickHouse (``INSERT ...
SELECT FROM numbers()``, no PostgreSQL rows): one organization with ``--deals`` deals over two
years (three stays each, two ended), three activities per deal, ``--deals`` campaign recipients
in 24 campaigns with their opens, clicks and bounces, and a noise organization a tenth of that
size. Then, for each count of ``--users`` (threads of this process sharing its chDB session,
as web threads share the reader), every user runs the six reports in turn (each user starting
at another report) ``--samples / users`` times (rounded up) through the engine (filters: the last 12 months; no HTTP)
and prints p50/p95/max in ms per report.

Events, as the issue counts them (``events`` in the output, for the large organization): a deal
(its creation), a deal stay (a stage move or stay), an activity, and a campaign recipient's
dated events (sent, opened, clicked, unsubscribed) and bounces (its bounced suppressions).
``--deals 2400000`` makes about 20.3 M events in the large organization (8.44 a deal). Owner names come from the primary database
(``DATABASE_URL``, migrated), as in the app: the synthetic owners have no user there.

This is the engine's own cost on chDB (the ClickHouse engine in this process) on this machine,
not the comparison with PostgreSQL of the issue's benchmark. chDB runs one statement of the
reader at a time (``stratus.analytics.client.EmbeddedClient`` holds a lock; a server runs
them side by side): with N users a report waits for the statements of the others.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import emit


def fill(writer: Any, org: int, deals: int, first_id: int) -> None:
    db, n = writer.database, deals
    base = "toDateTime64('2026-12-06 00:00:00', 6, 'UTC')"
    ids = f"number + {first_id}"
    run = writer.command
    stage = first_id  # stages first_id .. first_id + 5 in pipeline first_id
    run(
        f"INSERT INTO {db}.pipelines (organization_id, id, name, position, created_at, _version, _deleted) "
        f"VALUES ({org}, {first_id}, 'Sales', 0, {base}, 1, 0)"
    )
    stages = [("Lead", 10, "open"), ("Qualified", 25, "open"), ("Proposal", 50, "open")]
    stages += [("Negotiation", 75, "open"), ("Won", 100, "won"), ("Lost", 0, "lost")]
    for position, (name, probability, kind) in enumerate(stages):
        run(
            f"INSERT INTO {db}.stages (organization_id, id, pipeline_id, name, position, probability, kind,"
            f" created_at, _version, _deleted) VALUES ({org}, {stage + position}, {first_id}, '{name}',"
            f" {position}, {probability}, '{kind}', {base}, 1, 0)"
        )
    created = f"{base} - toIntervalSecond(({ids}) * 7919 % (730 * 86400))"
    stage_of = f"{stage} + (({ids}) * 31 % 6)"
    run(f"""
        INSERT INTO {db}.deals (organization_id, id, pipeline_id, stage_id, owner_id, value, currency,
            lost_reason, expected_close_date, created_at, stage_changed_at, closed_at, _version, _deleted)
        SELECT {org}, {ids}, {first_id}, {stage_of}, 1 + ({ids}) % 20, toDecimal64((({ids}) * 37 % 100000) / 100, 2),
            ['EUR', 'USD', 'GBP'][1 + ({ids}) % 3], if(({ids}) * 31 % 6 = 5, ['Price', 'Timing'][1 + ({ids}) % 2], ''),
            if(({ids}) * 31 % 6 < 4, toDate32({created} + toIntervalDay(30 + ({ids}) % 90)), NULL),
            {created}, {created}, if(({ids}) * 31 % 6 >= 4, {created} + toIntervalDay(1 + ({ids}) % 60), NULL), 1, 0
        FROM numbers({n})
    """)
    deal = f"{first_id} + intDiv(number, 3)"
    deal_created = f"{base} - toIntervalSecond(({deal}) * 7919 % (730 * 86400))"
    run(f"""
        INSERT INTO {db}.deal_stays (organization_id, id, deal_id, stage_id, deal_created_at, entered_at, left_at,
            _version, _deleted)
        SELECT {org}, {first_id} + number, {deal}, {stage} + number % 3, {deal_created},
            {deal_created} + toIntervalDay(number % 3 * 5),
            if(number % 3 = 2, NULL, {deal_created} + toIntervalDay(number % 3 * 5)
               + toIntervalSecond(number * 7919 % (20 * 86400))), 1, 0
        FROM numbers({3 * n})
    """)
    run(f"""
        INSERT INTO {db}.activities (organization_id, id, kind, assignee_id, done, created_at, due_at, _version,
            _deleted)
        SELECT {org}, {first_id} + number, ['task', 'call', 'meeting', 'note'][1 + number % 4],
            if(number % 10 = 0, NULL, 1 + number % 20), number % 2,
            {base} - toIntervalSecond(number * 7919 % (730 * 86400)),
            if(number % 4 = 0, {base} - toIntervalSecond(number * 7919 % (730 * 86400)) + toIntervalDay(3), NULL),
            1, 0
        FROM numbers({3 * n})
    """)
    run(f"""
        INSERT INTO {db}.campaigns (organization_id, id, name, state, created_by_id, created_at, started_at,
            finished_at, _version, _deleted)
        SELECT {org}, {first_id} + number, concat('Campaign ', toString(number)), 'sent', 1 + number % 20,
            {base} - toIntervalDay(15 * number), {base} - toIntervalDay(15 * number), NULL, 1, 0
        FROM numbers(24)
    """)
    campaign = f"{first_id} + number % 24"
    sent = f"{base} - toIntervalDay(15 * (number % 24)) + toIntervalSecond(number % 86400)"
    run(f"""
        INSERT INTO {db}.campaign_recipients (organization_id, id, campaign_id, email_hash, state, sent_at,
            opened_at, open_count, clicked_at, click_count, unsubscribed_at, _version, _deleted)
        SELECT {org}, {first_id} + number, {campaign}, cityHash64(number), if(number % 50 = 0, 'failed', 'sent'),
            if(number % 50 = 0, NULL, {sent}), if(number % 3 = 0, {sent} + toIntervalHour(5), NULL), number % 3 = 0,
            if(number % 9 = 0, {sent} + toIntervalHour(6), NULL), number % 9 = 0,
            if(number % 200 = 0, {sent} + toIntervalDay(1), NULL), 1, 0
        FROM numbers({n})
    """)
    run(f"""
        INSERT INTO {db}.suppressions (organization_id, id, email_hash, reason, campaign_id, created_at, _version,
            _deleted)
        SELECT {org}, {first_id} + number, cityHash64(number), 'bounced', {campaign}, {sent}, 1, 0
        FROM numbers({n}) WHERE number % 100 = 0
    """)


EVENTS_SQL = """
SELECT
    (SELECT count() FROM {db}.deals FINAL WHERE organization_id = {org} AND _deleted = 0)
  + (SELECT count() FROM {db}.deal_stays FINAL WHERE organization_id = {org} AND _deleted = 0)
  + (SELECT count() FROM {db}.activities FINAL WHERE organization_id = {org} AND _deleted = 0)
  + (SELECT countIf(sent_at IS NOT NULL) + countIf(opened_at IS NOT NULL) + countIf(clicked_at IS NOT NULL)
            + countIf(unsubscribed_at IS NOT NULL)
     FROM {db}.campaign_recipients FINAL WHERE organization_id = {org} AND _deleted = 0)
  + (SELECT count() FROM {db}.suppressions FINAL
     WHERE organization_id = {org} AND _deleted = 0 AND reason = 'bounced')
"""


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "samples": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "max_ms": round(times[-1], 1),
    }


def measure(
    users: int, runs: int, filters: Any, engine_name: str = "clickhouse"
) -> dict[str, dict[str, float]]:
    """``users`` threads, each running every report ``runs`` times in turn (user u starts at the
    u-th report) on the engine ``engine_name``; the latencies of each report over all users."""
    from django.db import connections

    from stratus.reports import engines
    from stratus.reports.contracts import REPORTS

    engine = engines.get_engine(engine_name)
    names = list(REPORTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(users)

    def user(index: int) -> None:
        try:
            start.wait()
            for run in range(runs):
                for step in range(len(names)):
                    name = names[(index + run + step) % len(names)]
                    begun = time.perf_counter()
                    engines.run(name, filters, engine)
                    elapsed = (time.perf_counter() - begun) * 1000
                    connections.close_all()  # back to the pool (fewer connections than users)
                    with lock:
                        times[name].append(elapsed)
        except BaseException as error:  # reported after the join
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=user, args=(index,)) for index in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return {name: percentiles(times[name]) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="chDB folder (emptied first)")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument(
        "--samples", type=int, default=24, help="runs of each report, shared by the users (rounded up)"
    )
    parser.add_argument("--users", type=int, nargs="+", default=[1], help="concurrent users, e.g. 1 8")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    url = f"chdb://{args.store.resolve()}?database=bench"
    os.environ["ANALYTICS_URL"] = os.environ["ANALYTICS_WRITER_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
    import shutil

    import django

    shutil.rmtree(args.store, ignore_errors=True)
    django.setup()
    from stratus.analytics import client as analytics
    from stratus.analytics import schema
    from stratus.reports import engines
    from stratus.reports.contracts import REPORTS, ReportFilters

    writer = analytics.writer()
    schema.migrate(writer)
    started = time.monotonic()
    fill(writer, 1, args.deals, 1)
    fill(writer, 2, args.deals // 10, 100_000_000)
    fill_seconds = time.monotonic() - started
    rows = {
        table.name: analytics.reader().query(f"SELECT count() FROM bench.{table.name}")[0][0]
        for table in schema.TABLES
    }
    as_of = datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)
    filters = ReportFilters(
        organization_id=1,
        as_of=as_of,
        date_from=datetime.date(2025, 12, 6),
        date_to=datetime.date(2026, 12, 5),
    )
    events = analytics.reader().query(EVENTS_SQL.format(db="bench", org=1))[0][0]
    noise_events = analytics.reader().query(EVENTS_SQL.format(db="bench", org=2))[0][0]
    print(
        f"filled in {fill_seconds:.1f} s: {sum(rows.values())} rows, {events} events (+{noise_events} noise)"
    )
    engine = engines.get_engine("clickhouse")
    for name in REPORTS:
        engines.run(name, filters, engine)  # warm-up
    results: dict[str, Any] = {}
    for users in args.users:
        results[str(users)] = measure(users, -(-args.samples // users), filters)
        for name, figures in results[str(users)].items():
            print(f"{users} users", name, figures, flush=True)
    document = {
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "rows": rows,
        "events": events,
        "noise_events": noise_events,
        "fill_seconds": round(fill_seconds, 1),
        "filters": "last 12 months, organization 1 (no pipeline, owner or currency)",
        "reports_by_users": results,
    }
    emit(document, args.out)


if __name__ == "__main__":
    main()
