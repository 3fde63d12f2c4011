"""Benchmark of the reports API: p50/p95/p99 of each report under concurrent closed-loop users.

    uv run python bench/reports.py --database-url postgres://postgres@127.0.0.1:5432/stratus_reportbench \\
        --redis-url redis://127.0.0.1:6379/4 --users 8 --duration 30 \\
        --out bench/results/reports-1M.json --explain bench/results/explain

Against a database made by ``bench/generate.py --history`` (organization ``bench``), served by
gunicorn with the production settings of ``bench/load.py`` (``STRATUS_ENV=production``,
DEBUG off, PostgreSQL, Redis). ``--users`` members of the organization each get an API token
(role member) and run as a closed-loop user: a request, its answer read to the end, the next
request, for ``--duration`` seconds per report (after ``--warmup`` seconds not counted). Each
request draws its filters from a fixed mix (``FILTER_MIX``: the last 12 months alone, or with
the default pipeline, an owner or a currency, or the last quarter of one owner in one
pipeline; the activity and campaigns reports take only dates and owner).

Before the load, each report runs once in process with the "last 12 months" filters: its SQL
statements are counted and, with ``--explain DIR``, each is written with its
``EXPLAIN (ANALYZE, BUFFERS)`` plan to ``DIR/reports-<report>.txt``.

Prints and writes (``--out``) one JSON document: per report the requests, req/s, p50, p95,
p99 and max in ms, errors, CPU ms per request of the app and of PostgreSQL, and the SQL
statement count; the load average before and after; the command.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import emit  # noqa: E402
from bench.load import cpu_snapshot, free_port, server_env, wait_ready  # noqa: E402

REPORTS = ("funnel", "velocity", "won-lost", "forecast", "activity", "campaigns")
DEAL_REPORTS = ("funnel", "velocity", "won-lost", "forecast")
# (weight, name, filters): the share of requests with each combination.
FILTER_MIX = (
    (40, "last 12 months", ("year",)),
    (20, "last 12 months, default pipeline", ("year", "pipeline")),
    (15, "last 12 months, one owner", ("year", "owner")),
    (15, "last 12 months, one currency", ("year", "currency")),
    (10, "last quarter, one owner, default pipeline", ("quarter", "owner", "pipeline")),
)
CURRENCIES = ("USD", "EUR", "GBP")


def loadavg() -> list[str]:
    with open("/proc/loadavg") as handle:
        return handle.read().split()[:3]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def _is_query(sql: str) -> bool:
    """A statement of the report (not transaction control)."""
    return sql.lstrip().upper().startswith(("SELECT", "WITH"))


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Tokens of --users members, the ids the filters use, the queries and plans of each report."""
    os.environ.update(server_env(args))
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from stratus.accounts.models import Membership, Organization
    from stratus.accounts.services import token_create
    from stratus.campaigns.models import Campaign, Recipient
    from stratus.crm.models import Activity, Contact, Deal, Pipeline, TimelineEntry
    from stratus.reports import engines
    from stratus.reports.contracts import ReportFilters

    org = Organization.objects.get(slug="bench")
    owner = Membership.objects.filter(organization=org, role="owner").select_related("user").get()
    members = list(
        Membership.objects.filter(organization=org).select_related("user").order_by("user_id")[: args.users]
    )
    tokens = [
        token_create(org=org, actor=owner.user, name=f"reports bench {m.user_id}", role="member").secret
        for m in members
    ]
    owners = list(Membership.objects.filter(organization=org).values_list("user_id", flat=True))
    pipeline = Pipeline.objects.get(organization=org, is_default=True).pk
    today = datetime.datetime.now(datetime.UTC).date()
    data = {
        "contacts": Contact.objects.filter(organization=org).count(),
        "deals": Deal.objects.filter(organization=org).count(),
        "stage_moves": TimelineEntry.objects.filter(
            organization=org, target_type="deal", action="moved"
        ).count(),
        "activities": Activity.objects.filter(organization=org).count(),
        "campaigns": Campaign.objects.filter(organization=org).count(),
        "recipients": Recipient.objects.filter(organization=org).count(),
        "pipelines": Pipeline.objects.filter(organization=org).count(),
        "members": len(owners),
    }
    queries: dict[str, Any] = {}
    year = ReportFilters(
        organization_id=org.pk,
        as_of=datetime.datetime.now(datetime.UTC),
        date_from=today - datetime.timedelta(days=365),
        date_to=today,
    )
    if args.explain:
        args.explain.mkdir(parents=True, exist_ok=True)
    for report in REPORTS:
        with CaptureQueriesContext(connection) as captured:
            started = time.monotonic()
            engines.run(report, year, engines.get_engine("database"))
            elapsed = time.monotonic() - started
        statements = [q["sql"].strip() for q in captured.captured_queries if _is_query(q["sql"])]
        queries[report] = {"statements": len(statements), "in_process_ms": round(elapsed * 1000, 1)}
        if args.explain:
            lines = [f"-- {report}, filters: last 12 months ({year.date_from} .. {year.date_to})\n"]
            # The statements as the engine ran them, in one transaction: its planner settings
            # (set_config) apply to the plans; transaction control is not explained.
            with transaction.atomic(), connection.cursor() as cursor:
                for n, query in enumerate(captured.captured_queries, 1):
                    sql = query["sql"].strip()
                    if not _is_query(sql):
                        continue
                    lines.append(f"\n-- statement {n} ({query['time']} s when run)\n{sql}\n")
                    if "set_config(" in sql:
                        cursor.execute(sql)
                        continue
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                    lines += [row[0] + "\n" for row in cursor.fetchall()]
            (args.explain / f"reports-{report}.txt").write_text("".join(lines))
    connection.close()
    return {
        "tokens": tokens,
        "owners": owners,
        "pipeline": pipeline,
        "today": today,
        "data": data,
        "queries": queries,
    }


def query_string(report: str, rng: random.Random, prepared: dict[str, Any]) -> str:
    (_, _, parts) = rng.choices(FILTER_MIX, weights=[w for w, _, _ in FILTER_MIX])[0]
    today: datetime.date = prepared["today"]
    params: dict[str, str] = {"date_to": today.isoformat()}
    days = 365 if "year" in parts else 91
    params["date_from"] = (today - datetime.timedelta(days=days)).isoformat()
    if "owner" in parts:
        params["owner"] = str(rng.choice(prepared["owners"]))
    if report in DEAL_REPORTS:
        if "pipeline" in parts:
            params["pipeline"] = str(prepared["pipeline"])
        if "currency" in parts:
            params["currency"] = rng.choice(CURRENCIES)
    return urllib.parse.urlencode(params)


def user_loop(
    port: int,
    token: str,
    report: str,
    prepared: dict[str, Any],
    seed: int,
    until: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    while time.monotonic() < until:
        path = f"/api/v1/reports/{report}?{query_string(report, rng, prepared)}"
        started = time.monotonic()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__} on {path}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        elapsed = time.monotonic() - started
        if response.status != 200:
            errors.append(f"HTTP {response.status} on {path}: {body[:200]!r}")
            continue
        latencies.append(elapsed * 1000)
    conn.close()


def drive(port: int, report: str, prepared: dict[str, Any], users: int, seconds: float) -> dict[str, Any]:
    until = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=user_loop,
            args=(port, token, report, prepared, hash((report, n)) & 0xFFFF, until, latencies, errors),
        )
        for n, token in enumerate(prepared["tokens"][:users])
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    figures: dict[str, Any] = {"requests": len(latencies), "errors": len(errors), "error_sample": errors[:3]}
    if latencies:
        figures.update(
            {
                "rps": round(len(latencies) / elapsed, 2),
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p95_ms": round(percentile(latencies, 0.95), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "max_ms": round(max(latencies), 1),
            }
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--label", default="1M", help="goes into the result")
    parser.add_argument("--users", type=int, default=8, help="concurrent closed-loop users")
    parser.add_argument("--duration", type=int, default=30, help="seconds per report")
    parser.add_argument("--warmup", type=int, default=5, help="seconds per report not counted")
    parser.add_argument("--workers", type=int, default=8, help="gunicorn worker processes")
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--reports", default=",".join(REPORTS))
    parser.add_argument("--explain", type=Path, help="directory for the EXPLAIN ANALYZE of each report")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    # Seeded per (report, user): the same command sends the same requests. hash() of a str
    # is salted per process, so fix the salt.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

    load_before = loadavg()
    prepared = prepare(args)
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "stratus.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    gunicorn += ["--workers", str(args.workers), "--threads", str(args.threads_per_worker)]
    gunicorn += ["--worker-class", "gthread" if args.threads_per_worker > 1 else "sync"]
    gunicorn += ["--backlog", "2048", "--log-level", "warning", "--timeout", "120"]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=server_env(args))
    results: dict[str, Any] = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        for report in [r for r in args.reports.split(",") if r]:
            if args.warmup:
                drive(port, report, prepared, args.users, args.warmup)
            before = cpu_snapshot(server.pid, args.database_url)
            figures = drive(port, report, prepared, args.users, args.duration)
            after = cpu_snapshot(server.pid, args.database_url)
            requests = max(figures["requests"], 1)
            figures["cpu_ms_per_request"] = {
                part: round((after[part] - before[part]) * 1000 / requests, 1) for part in ("app", "db")
            }
            figures["sql_statements"] = prepared["queries"][report]["statements"]
            results[report] = figures
            print(
                f"{report:>9}: {figures.get('rps', 0):7.2f} req/s  p50 {figures.get('p50_ms', 0):8.1f} ms  "
                f"p95 {figures.get('p95_ms', 0):8.1f} ms  p99 {figures.get('p99_ms', 0):8.1f} ms  "
                f"errors {figures['errors']}  cpu/req app {figures['cpu_ms_per_request']['app']} ms "
                f"db {figures['cpu_ms_per_request']['db']} ms  sql {figures['sql_statements']}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    report_doc = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "server": {"workers": args.workers, "threads": args.threads_per_worker},
        "load": {
            "users": args.users,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "filter_mix": [{"weight": w, "filters": name} for w, name, _ in FILTER_MIX],
        },
        "data": prepared["data"],
        "in_process_last_12_months": prepared["queries"],
        "results": results,
    }
    emit(report_doc, args.out)


if __name__ == "__main__":
    main()
