"""Load test of the contact and deal API through gunicorn, with the bare-view ceiling.

    uv run python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/stratus_bench \\
        --redis-url redis://127.0.0.1:6379/1 --label 1M --duration 30

Starts gunicorn (``stratus.wsgi`` with production settings: DEBUG off, PostgreSQL, Redis
cache, JSON logs at warning level; ``bench.settings`` only adds ``/bench/bare``) on a free
port, creates an API token for the ``bench`` organization made by ``bench/generate.py``,
then runs ``wrk`` (``bench/requests.lua``) for each scenario with ``--connections``
concurrent clients: the bare view (constant JSON: the framework ceiling), contact list
(page of 50), contact search, contact detail, contact create, deal move. Prints and
writes (``--out``) a JSON document with requests/s and p50/p95/p99 latency per scenario.
Rate limits are switched off for the run (``API_RATE_LIMIT_*=0``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import emit  # noqa: E402

SCENARIOS = ("bare", "list", "search", "detail", "create", "move")
LIST_PATH = "/api/v1/contacts?limit=50"
SEARCH_PATH = "/api/v1/contacts?q={term}&limit=50"
DETAIL_PATH = "/api/v1/contacts/{id}"
CREATE_PATH = "/api/v1/contacts"
MOVE_PATH = "/api/v1/deals/{id}/move"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRATUS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "STRATUS_ENV": "production",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "x" * 60,
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no TLS redirect; documents are not exercised.
            "HTTPS": "false",
            "TRUST_X_FORWARDED_PROTO": "false",
            "AWS_STORAGE_BUCKET_NAME": "bench-unused",
            "LOG_LEVEL": "warning",
            "API_RATE_LIMIT_TOKEN": "0",
            "API_RATE_LIMIT_USER": "0",
            "API_RATE_LIMIT_ORGANIZATION": "0",
            "API_RATE_LIMIT_ANONYMOUS": "0",
            "DB_POOL_MAX_SIZE": str(args.threads_per_worker + 2),
        }
    )
    return env


def prepare(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Token, sample ids and request files (in-process Django against the bench database)."""
    os.environ.update(server_env(args))
    import django

    django.setup()
    from django.db import connection

    from stratus.accounts.models import Membership, Organization
    from stratus.accounts.services import token_create
    from stratus.crm.models import Contact, Deal, Stage, StageKind

    org = Organization.objects.get(slug="bench")
    owner = Membership.objects.filter(organization=org, role="owner").select_related("user").first()
    assert owner is not None
    issued = token_create(org=org, actor=owner.user, name="bench", role="member")
    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), count(*) FROM crm_contact WHERE organization_id = %s", [org.pk]
        )
        low, high, contacts = cursor.fetchone()
        cursor.execute("SELECT min(id), max(id), count(*) FROM crm_deal WHERE organization_id = %s", [org.pk])
        deal_low, deal_high, deals = cursor.fetchone()
    contact_ids = list(
        Contact.objects.filter(
            organization=org, pk__in=[rng.randint(low, high) for _ in range(3000)]
        ).values_list("pk", flat=True)[:1000]
    )
    deal_ids = list(
        Deal.objects.filter(
            organization=org, pk__in=[rng.randint(deal_low, deal_high) for _ in range(3000)]
        ).values_list("pk", flat=True)[:1000]
    )
    stages = list(
        Stage.objects.filter(organization=org, pipeline__is_default=True)
        .exclude(kind=StageKind.LOST)
        .values_list("pk", flat=True)
    )
    names = list(
        Contact.objects.filter(organization=org, pk__in=contact_ids[:200]).values_list(
            "first_name", "last_name", "email"
        )
    )
    terms: list[str] = []
    for first, last, email in names:
        terms += [last, f"{first} {last}", first[:4], email.split("@")[0]]
    files = {
        "bare": [("GET", "/bench/bare", "")],
        "list": [("GET", LIST_PATH, "")],
        "search": [("GET", SEARCH_PATH.format(term=urllib.parse.quote(t)), "") for t in terms],
        "detail": [("GET", DETAIL_PATH.format(id=pk), "") for pk in contact_ids],
        "create": [
            (
                "POST",
                CREATE_PATH,
                json.dumps(
                    {"first_name": "Bench", "last_name": "Created", "email": "bench-{uniq}@load.example"}
                ),
            )
        ],
        "move": [
            ("POST", MOVE_PATH.format(id=pk), json.dumps({"stage": rng.choice(stages)})) for pk in deal_ids
        ],
    }
    for name, lines in files.items():
        (workdir / f"{name}.tsv").write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in lines))
    connection.close()
    return {
        "token": issued.secret,
        "contacts": contacts,
        "deals": deals,
        "sample": {"contact_ids": len(contact_ids), "deal_ids": len(deal_ids), "search_terms": len(terms)},
    }


def wait_ready(base: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/bench/bare", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise SystemExit("gunicorn did not become ready")


def probe(base: str, token: str, workdir: Path, scenario: str) -> str | None:
    """None if the scenario's first request succeeds, else why not."""
    method, path, body = (workdir / f"{scenario}.tsv").read_text().splitlines()[0].split("\t")
    data = body.replace("{uniq}", f"probe-{time.time_ns()}").encode() if body else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return None if response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} on {method} {path}: {exc.read()[:300].decode(errors='replace')}"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _backends(database_url: str) -> list[int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


def cpu_snapshot(server_pid: int, database_url: str) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers and by their PostgreSQL backends.

    On a shared machine wall-clock latency mostly measures the queue for the CPU; CPU time
    per request is what a request costs whatever else runs.
    """
    return {
        "app": sum(_cpu_seconds(pid) for pid in _children(server_pid)),
        "db": sum(_cpu_seconds(pid) for pid in _backends(database_url)),
    }


def run_wrk(
    args: argparse.Namespace, base: str, token: str, workdir: Path, scenario: str, seconds: int
) -> dict[str, Any]:
    env = {**os.environ, "REQUESTS": str(workdir / f"{scenario}.tsv")}
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-H",
        f"Authorization: Bearer {token}",
        "-s",
        str(ROOT / "bench" / "requests.lua"),
        base,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = [row for row in result.stdout.splitlines() if row.startswith("{")][-1]
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--label", required=True, help="e.g. 1k or 1M (goes into the result)")
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per scenario (not counted)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn worker processes (2 x CPU + 1)")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="gunicorn threads (gthread if > 1)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian/Ubuntu: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    prepared = prepare(args, workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "stratus.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads_per_worker),
        "--worker-class",
        "gthread" if args.threads_per_worker > 1 else "sync",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=server_env(args))
    results: dict[str, Any] = {}
    try:
        wait_ready(base)
        for scenario in args.scenarios.split(","):
            problem = probe(base, prepared["token"], workdir, scenario)
            if problem is not None:
                results[scenario] = {"skipped": problem}
                print(f"{scenario:>7}: skipped ({problem})", flush=True)
                continue
            if args.warmup:
                run_wrk(args, base, prepared["token"], workdir, scenario, args.warmup)
            before = cpu_snapshot(server.pid, args.database_url)
            figures = run_wrk(args, base, prepared["token"], workdir, scenario, args.duration)
            after = cpu_snapshot(server.pid, args.database_url)
            requests = max(figures["requests"], 1)
            figures["cpu_ms_per_request"] = {
                part: round((after[part] - before[part]) * 1000 / requests, 2) for part in ("app", "db")
            }
            results[scenario] = figures
            print(
                f"{scenario:>7}: {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
                f"p95 {figures['p95_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
                f"non-2xx {figures['non_2xx']}  cpu/req app {figures['cpu_ms_per_request']['app']} ms "
                f"db {figures['cpu_ms_per_request']['db']} ms",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    ceiling = results.get("bare", {}).get("rps")
    for figures in results.values():
        if ceiling and "rps" in figures:
            figures["ratio_to_bare"] = round(figures["rps"] / ceiling, 3)
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[:3]
    report = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_after": load},
        "server": {"workers": args.workers, "threads": args.threads_per_worker},
        "load": {"connections": args.connections, "duration_s": args.duration, "warmup_s": args.warmup},
        "data": {k: prepared[k] for k in ("contacts", "deals", "sample")},
        "results": results,
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
