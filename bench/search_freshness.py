"""Freshness of search by meaning: from saving a note to finding it by meaning.

Starts, on this machine, the topology of a small deployment: a scratch PostgreSQL database
(migrated), one web process (gunicorn, ``--web-workers`` sync workers, ``stratus.wsgi``) and one
worker as Procfile.dev runs it (``celery -A stratus worker --beat --pool=threads
--concurrency=2``), Redis as the broker and the cache (the wake-up's throttle lives there), and
the embedded vector store (Qdrant Edge under a fresh ``DATA_DIR/qdrant``, shared by the web
process and the worker). Nothing else runs in them.

It creates an organization (``create_org``, API token) and a company, warms up (one note saved
and found, so the model is loaded in the worker and in every web worker), then saves ``--notes``
notes through ``POST /api/v1/activities`` (kind ``note``, each with a sentence no other note
has) ``--spacing`` seconds apart. For each note a thread polls
``GET /api/v1/search?mode=meaning&type=activity&q=<the note's sentence>`` every ``--poll``
seconds (after the previous answer) until the note is among the results, with at most
``--searchers`` searches in flight over all the waiting notes (default 1: on the embedded default
a search takes the shard's exclusive lock as the indexer's writes do, so a poller per waiting
note, ``--searchers 0``, slows the indexing it measures). Save-to-searchable is
from just before the POST was sent to the receipt of the first answer that lists the note; the
time to the POST's answer (the commit) is recorded too.

Afterwards, to say what dominates, it reads the worker's log (each ``knowledge.index_pending``
task's receipt and run time: the wake-up's latency and the indexing), and, with the worker
stopped, times in this process the indexer's parts on the same data: loading and embedding one
note (``passages_of``), writing it to Edge (``write``), and one query by meaning (embedding the
question, Edge search).

    uv run python bench/search_freshness.py --notes 60 --spacing 1 \\
        --out bench/results/DATE-search-freshness.json

Needs PostgreSQL and Redis (``--postgres``, ``--redis``: a Redis database no other Celery worker
uses, since the broker's queue is shared by every worker on it; the cache gets a fresh prefix).
Prints JSON; ``--out`` writes it too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.children import CLEARED, child_env, emit, free_port, manage, uptime, wait_http  # noqa: E402

PEOPLE = ["Ana", "Bruno", "Chloe", "Dmitri", "Esther", "Farid", "Greta", "Hiro", "Ines", "Jonas"]
ROLES = ["head of procurement", "CFO", "IT lead", "operations manager", "office manager", "CTO"]
TOPICS = [
    "wants the onboarding of the {n} new hires finished before the audit in week {w}",
    "complained that the invoice for {n} seats arrived {w} days late",
    "asked whether the renewal can move to a {n}-month term starting in week {w}",
    "reported {n} failed logins on the shared tablet since week {w}",
    "needs the data export of {n} warehouses for the board meeting in week {w}",
    "is comparing us with {n} other vendors and will decide within {w} days",
    "wants training for {n} sales reps on the mobile app in week {w}",
    "says the integration with their ERP dropped {n} orders in week {w}",
]


def sentence(number: int) -> str:
    person = PEOPLE[number % len(PEOPLE)]
    role = ROLES[(number // len(PEOPLE)) % len(ROLES)]
    topic = TOPICS[(number * 7) % len(TOPICS)].format(n=3 + number * 13 % 97, w=1 + number % 52)
    return f"{person}, the {role}, {topic}."


class Api:
    def __init__(self, base: str, token: str, searchers: int = 0) -> None:
        self.base = base
        self.token = token
        # At most this many searches in flight (0: no limit).
        self.searching = threading.BoundedSemaphore(searchers) if searchers else None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def finds(self, text: str, activity_id: int) -> tuple[bool, float]:
        """Whether a search by meaning for ``text`` lists the activity; and the request's seconds."""
        query = urllib.parse.urlencode({"q": text, "mode": "meaning", "type": "activity", "limit": 10})
        if self.searching is not None:
            self.searching.acquire()
        try:
            begun = time.perf_counter()
            found = self.request("GET", f"/api/v1/search?{query}")
            took = time.perf_counter() - begun
        finally:
            if self.searching is not None:
                self.searching.release()
        return any(
            r["record"]["type"] == "activity" and r["record"]["id"] == activity_id for r in found["results"]
        ), took


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * share) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values), 3),
    }


def save_and_wait(
    api: Api, company_id: int, number: int, poll: float, timeout: float, out: dict[str, Any]
) -> None:
    text = sentence(number)
    sent = time.perf_counter()
    sent_wall = time.time()
    created = api.request(
        "POST",
        "/api/v1/activities",
        {"kind": "note", "subject": f"Call notes {number}", "body": text, "company": company_id},
    )
    committed = time.perf_counter()
    query_seconds: list[float] = []
    while True:
        found, took = api.finds(text, created["id"])
        query_seconds.append(took)
        now = time.perf_counter()
        if found:
            break
        if now - sent > timeout:
            out.update(number=number, id=created["id"], timed_out=True)
            return
        time.sleep(poll)
    out.update(
        number=number,
        id=created["id"],
        sent_at=sent_wall,
        committed_at=sent_wall + (committed - sent),
        save_seconds=round(committed - sent, 3),
        searchable_seconds=round(now - sent, 3),
        searchable_after_commit_seconds=round(now - committed, 3),
        polls=len(query_seconds),
        query_seconds_median=round(statistics.median(query_seconds), 3),
    )


TASK_LINE = re.compile(
    r"(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO .*?"
    r"Task knowledge\.index_pending\[(?P<id>[^\]]+)\] "
    r"(?P<what>received|succeeded in (?P<secs>[\d.]+)s: (?P<n>\d+))"
)


def worker_tasks(log: str) -> list[dict[str, Any]]:
    """The indexer tasks in the worker's log: receipt time, run seconds, records indexed."""
    tasks: dict[str, dict[str, Any]] = {}
    for match in TASK_LINE.finditer(log):
        at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        task = tasks.setdefault(match["id"], {})
        if match["what"] == "received":
            task["received_at"] = at
        else:
            task["finished_at"] = at
            task["seconds"] = float(match["secs"])
            task["records"] = int(match["n"])
    return [t for t in tasks.values() if "received_at" in t and "seconds" in t]


def wake_latencies(notes: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> list[float]:
    """Per note: from its commit to the receipt of the first indexer task that indexed records
    after it (the task that took it, or the one whose run its entry joined)."""
    latencies = []
    for note in notes:
        later = [
            t
            for t in tasks
            if t["records"] > 0 and t["finished_at"] >= note["committed_at"] and t["received_at"] > 0
        ]
        if later:
            first = min(later, key=lambda t: t["finished_at"])
            latencies.append(max(0.0, first["received_at"] - note["committed_at"]))
    return latencies


def parts_in_process(env: dict[str, str], ids: list[int], organization_id: int) -> dict[str, Any]:
    """Times the indexer's parts on notes of the run (worker stopped): embed, Edge write, query."""
    os.environ.update(env)
    for name in CLEARED:
        if name not in env:
            os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "stratus.settings"
    import django

    django.setup()
    from stratus.accounts.models import Organization
    from stratus.knowledge import selectors, services
    from stratus.knowledge.embeddings import embedder
    from stratus.knowledge.models import RecordType
    from stratus.knowledge.store import store

    vectors = store()
    collection = services.current_collection(vectors)
    embedder().embed(["warm-up"])
    embed, write, query, query_embed = [], [], [], []
    org = Organization.objects.get(pk=organization_id)
    for activity_id in ids:
        key = (organization_id, str(RecordType.ACTIVITY), activity_id)
        begun = time.perf_counter()
        passages, gone = services.passages_of([key])
        embed.append(time.perf_counter() - begun)
        begun = time.perf_counter()
        services.write(vectors, collection, passages, gone)
        write.append(time.perf_counter() - begun)
        text = passages[key][0].text
        begun = time.perf_counter()
        embedder().embed([text])
        query_embed.append(time.perf_counter() - begun)
        begun = time.perf_counter()
        selectors.search(org=org, query=text, mode="meaning", filters=selectors.Filters(), limit=10)
        query.append(time.perf_counter() - begun)
    return {
        "notes": len(ids),
        "load_and_embed_one_note_seconds": summary(embed),
        "edge_write_one_note_seconds": summary(write),
        "embed_question_seconds": summary(query_embed),
        "search_by_meaning_in_process_seconds": summary(query),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=60)
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between saves")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between a note's searches")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on a note after this")
    parser.add_argument(
        "--searchers",
        type=int,
        default=1,
        help="searches in flight at once, over all the notes waiting (0: one per note, no limit)",
    )
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--parts", type=int, default=20, help="notes timed part by part afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the database and DATA_DIR")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    database = f"stratus_bench_fresh_{tag}"
    admin_url = f"{args.postgres}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    data_dir = Path(tempfile.mkdtemp(prefix=f"stratus-fresh-{tag}-"))
    base_env = {
        "DATABASE_URL": f"{args.postgres}/{database}",
        "REDIS_URL": args.redis,
        "CELERY_BROKER_URL": args.redis,
        "CACHE_KEY_PREFIX": f"fresh{tag}",
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "warning",
        "DEBUG": "false",
        "API_RATE_LIMIT_TOKEN": "0",
        "API_RATE_LIMIT_USER": "0",
        "API_RATE_LIMIT_ORGANIZATION": "0",
    }
    processes: list[subprocess.Popen[bytes]] = []
    worker_log = data_dir / "worker.log"
    load_before = uptime()
    try:
        manage(base_env, "migrate", "--noinput")
        token = (
            manage(base_env, "create_org", "Fresh", "--owner", "fresh@stratus.example")
            .strip()
            .splitlines()[-1]
        )
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "stratus.wsgi:application",
                    "-w",
                    str(args.web_workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=child_env(base_env),
                stdout=(data_dir / "web.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        worker_command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "stratus",
            "worker",
            "--beat",
            "--pool=threads",
            "--concurrency=2",
            "--loglevel=INFO",
            "--hostname",
            f"fresh{tag}@%h",
        ]
        worker = subprocess.Popen(
            worker_command,
            cwd=ROOT,
            env=child_env({**base_env, "LOG_LEVEL": "info"}),  # the task lines are INFO
            stdout=worker_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(worker)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health/live")
        api = Api(base, token, args.searchers)
        company = api.request("POST", "/api/v1/companies", {"name": "Freshness Ltd"})

        # Warm-up: the model loads in the worker on its first batch and in each web worker on
        # its first question; the beat's first tick and the broker connection happen here too.
        warm: dict[str, Any] = {}
        save_and_wait(api, company["id"], 10_000, args.poll, 180, warm)
        if warm.get("timed_out"):
            raise SystemExit(f"warm-up note not searchable after 180 s; see {worker_log}")
        for _ in range(args.web_workers * 3):
            api.finds(sentence(10_000), warm["id"])

        results: list[dict[str, Any]] = [{} for _ in range(args.notes)]
        threads = []
        started = time.perf_counter()
        for number in range(args.notes):
            target = started + number * args.spacing
            time.sleep(max(0.0, target - time.perf_counter()))
            thread = threading.Thread(
                target=save_and_wait,
                args=(api, company["id"], number, args.poll, args.timeout, results[number]),
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        load_after = uptime()
        worker.terminate()
        worker.wait(timeout=60)
        processes.remove(worker)

        done = [r for r in results if not r.get("timed_out")]
        missed = [r for r in results if r.get("timed_out")]
        tasks = worker_tasks(worker_log.read_text(errors="replace"))
        busy_tasks = [t for t in tasks if t["records"] > 0]
        org_id = int(
            manage(
                base_env,
                "shell",
                "-c",
                "from stratus.accounts.models import Organization as O;print(O.objects.get(name='Fresh').pk)",
            )
            .strip()
            .splitlines()[-1]
        )
        parts = parts_in_process(base_env, [r["id"] for r in done[: args.parts]], org_id) if done else {}
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "uv run python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "uptime_before": load_before,
            "uptime_after": load_after,
            "setup": {
                "web": f"gunicorn stratus.wsgi:application, {args.web_workers} sync workers",
                "worker": " ".join(["celery", *worker_command[3:-2]]),
                "broker_and_cache": "Redis",
                "vector_store": "Qdrant Edge under DATA_DIR/qdrant (embedded default)",
                "notes": args.notes,
                "spacing_seconds": args.spacing,
                "poll_seconds": args.poll,
                "searches_in_flight_at_most": args.searchers or "one per waiting note",
                "search": "GET /api/v1/search?mode=meaning&type=activity&limit=10&q=<the note's sentence>",
            },
            "searchable_seconds_from_save": (
                summary([r["searchable_seconds"] for r in done]) if done else None
            ),
            "searchable_seconds_from_commit": (
                summary([r["searchable_after_commit_seconds"] for r in done]) if done else None
            ),
            "save_request_seconds": summary([r["save_seconds"] for r in done]) if done else None,
            "search_request_seconds_median_per_note": (
                summary([r["query_seconds_median"] for r in done]) if done else None
            ),
            "timed_out": len(missed),
            "worker": {
                "indexer_tasks_run": len(tasks),
                "indexer_tasks_that_indexed": len(busy_tasks),
                "indexer_task_seconds": summary([t["seconds"] for t in busy_tasks]) if busy_tasks else None,
                "records_per_task": (
                    summary([float(t["records"]) for t in busy_tasks]) if busy_tasks else None
                ),
                "commit_to_task_received_seconds": (
                    summary(wake_latencies(done, tasks)) if done and busy_tasks else None
                ),
            },
            "parts_in_process_worker_stopped": parts,
            "notes_detail": results,
        }
        emit(report, args.out)
        return 0 if not missed else 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept database {database} and {data_dir}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
