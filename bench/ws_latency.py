"""Live-update delivery latency with many open sockets on two ws processes.

Starts, on this machine: a scratch PostgreSQL database (migrated), one web process
(gunicorn, 2 workers), two ws processes (uvicorn stratus.asgi:application), all sharing
one Redis (a fresh key prefix). Opens N sockets split over the two ws processes (from
two client processes, each signing in by session cookie), then writes through the REST
API (contact creates with an API token, one at a time at a fixed rate). For every event
and socket it records the time from just before the API request was sent to receipt on
the socket; it also samples pg_stat_activity during the run.

    uv run python bench/ws_latency.py --sockets 1000 --writes 100 --rate 5

Prints a Markdown report; --out writes it to a file as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
CLEARED = ("DJANGO_SETTINGS_MODULE", "STRATUS_ENV", "DATABASE_URL", "REDIS_URL", "REALTIME_REDIS_URL")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(env), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_http(url: str, deadline: float = 90) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > end:
                raise SystemExit(f"{url} did not answer") from None
            time.sleep(0.2)


def api(base: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --- socket clients (separate processes, so receiving is not one core's bottleneck) -------------


async def _client_main(url: str, origin: str, cookie: str, count: int, ready: Any, go: Any, out: Any) -> None:
    from websockets.asyncio.client import connect

    received: list[tuple[int, float, float]] = []  # (record id, receipt time, commit time)
    sockets = []
    for _ in range(count):
        ws = await connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, max_queue=None)
        await ws.send(json.dumps({"type": "subscribe"}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "subscribed", reply
        sockets.append(ws)
    ready.set()

    async def reader(ws: Any) -> None:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message["type"] == "event" and message["event"] == "contact.created":
                committed = datetime.fromisoformat(message["at"]).timestamp()
                received.append((message["data"]["id"], now, committed))

    tasks = [asyncio.create_task(reader(ws)) for ws in sockets]
    while not go.is_set():
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # let the last deliveries arrive
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.put(received)


def client_process(url: str, origin: str, cookie: str, count: int, ready: Any, go: Any, out: Any) -> None:
    asyncio.run(_client_main(url, origin, cookie, count, ready, go, out))


# --- PostgreSQL connections ----------------------------------------------------------------------


class ConnectionSampler(threading.Thread):
    def __init__(self, admin_url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.database = admin_url, database
        self.samples: list[dict[str, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT application_name, state, count(*) FROM pg_stat_activity "
                    "WHERE datname = %s GROUP BY 1, 2",
                    (self.database,),
                ).fetchall()
                sample: Counter[str] = Counter()
                for app, state, count in rows:
                    sample[f"{app or '?'}:total"] += count
                    sample["all:total"] += count
                    if state != "idle":
                        sample[f"{app or '?'}:busy"] += count
                        sample["all:busy"] += count
                self.samples.append(dict(sample))
                time.sleep(0.2)

    def peak(self, key: str) -> int:
        return max((s.get(key, 0) for s in self.samples), default=0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="API writes per second")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    database = f"stratus_bench_ws_{uuid.uuid4().hex[:8]}"
    admin_url = f"{args.postgres}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    base_env = {
        "DATABASE_URL": f"{args.postgres}/{database}",
        "REDIS_URL": args.redis,
        "REALTIME_PREFIX": prefix,
        "LOG_LEVEL": "warning",
        "DEBUG": "false",
        "API_RATE_LIMIT_TOKEN": "0",
        "API_RATE_LIMIT_USER": "0",
        "API_RATE_LIMIT_ORGANIZATION": "0",
    }
    processes: list[subprocess.Popen[bytes]] = []
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"stratus-bench-{prefix}"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        manage(base_env, "migrate", "--noinput")
        token = (
            manage(base_env, "create_org", "Bench", "--owner", "bench@stratus.example")
            .strip()
            .splitlines()[-1]
        )
        session_key = (
            manage(
                base_env,
                "shell",
                "-c",
                "from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY;"
                "from django.contrib.sessions.backends.db import SessionStore;"
                "from stratus.accounts.models import User;"
                "u = User.objects.get(email='bench@stratus.example');"
                "s = SessionStore(); s[SESSION_KEY] = str(u.pk);"
                "s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend';"
                "s[HASH_SESSION_KEY] = u.get_session_auth_hash(); s.create(); print(s.session_key)",
            )
            .strip()
            .splitlines()[-1]
        )

        web_port = free_port()
        web_env = {**base_env, "DATABASE_URL": f"{args.postgres}/{database}?application_name=bench-web"}
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "stratus.wsgi:application",
                    "-w",
                    "2",
                    "-b",
                    f"127.0.0.1:{web_port}",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=child_env(web_env),
                stdout=(log_dir / "web.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        ws_ports = [free_port(), free_port()]
        ws_env = {**base_env, "DATABASE_URL": f"{args.postgres}/{database}?application_name=bench-ws"}
        for port in ws_ports:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "stratus.asgi:application",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env=child_env(ws_env),
                    stdout=(log_dir / f"ws-{port}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        web = f"http://127.0.0.1:{web_port}"
        wait_http(f"{web}/health/live")
        for port in ws_ports:
            wait_http(f"http://127.0.0.1:{port}/health/live")

        sampler = ConnectionSampler(admin_url, database)
        sampler.start()
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        readies, clients = [], []
        cookie = f"sessionid={session_key}"
        per_client = [args.sockets // 2, args.sockets - args.sockets // 2]
        opened = time.monotonic()
        for port, count in zip(ws_ports, per_client, strict=True):
            ready = ctx.Event()
            origin = f"http://127.0.0.1:{port}"
            proc = ctx.Process(
                target=client_process,
                args=(f"ws://127.0.0.1:{port}/ws/", origin, cookie, count, ready, go, out),
            )
            proc.start()
            readies.append(ready)
            clients.append(proc)
        deadline = time.monotonic() + 600
        while not all(ready.is_set() for ready in readies):
            if any(not proc.is_alive() for proc in clients) or time.monotonic() > deadline:
                raise SystemExit("sockets did not all subscribe")
            time.sleep(0.2)
        open_seconds = time.monotonic() - opened
        connections_after_open = sampler.samples[-1] if sampler.samples else {}

        sent: dict[int, float] = {}
        responded: dict[int, float] = {}
        interval = 1.0 / args.rate
        started = time.monotonic()
        for n in range(args.writes):
            target = started + n * interval
            time.sleep(max(0.0, target - time.monotonic()))
            t0 = time.time()
            body = api(
                web,
                "/api/v1/contacts",
                token,
                {"first_name": "Bench", "last_name": f"N{n}", "email": f"n{n}-{prefix}@bench.example"},
            )
            responded[body["id"]] = time.time() - t0
            sent[body["id"]] = t0
        go.set()
        results: list[tuple[int, float, float]] = []
        for _ in clients:
            results.extend(out.get(timeout=120))
        for proc in clients:
            proc.join(timeout=30)
        sampler.stop.set()
        sampler.join()

        latencies = [(at - sent[rid]) * 1000 for rid, at, _ in results if rid in sent]
        after_commit = [(at - committed) * 1000 for rid, at, committed in results if rid in sent]
        expected = args.sockets * args.writes
        api_ms = [v * 1000 for v in responded.values()]
        load = os.getloadavg()
        lines = [
            "# Live-update delivery latency",
            "",
            f"- command: `uv run python bench/ws_latency.py {' '.join(sys.argv[1:])}`",
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; host: {platform.node()}, "
            f"{os.cpu_count()} CPUs (shared with other work); load average after the run: "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
            "- processes: 1 web (gunicorn, 2 sync workers), 2 ws (uvicorn stratus.asgi:application), "
            "2 client processes (websockets), PostgreSQL and Redis on the same machine",
            f"- sockets: {args.sockets} ({per_client[0]} + {per_client[1]}), opened and subscribed in "
            f"{open_seconds:.1f} s (session cookie)",
            f"- writes: {args.writes} contact creates through `POST /api/v1/contacts` at {args.rate}/s",
            "",
            "| measure | value |",
            "|---|---|",
            f"| deliveries received / expected | {len(latencies)} / {expected} |",
            f"| latency p50 (API request sent -> socket receipt) | {percentile(latencies, 50):.1f} ms |",
            f"| latency p90 | {percentile(latencies, 90):.1f} ms |",
            f"| latency p99 | {percentile(latencies, 99):.1f} ms |",
            f"| latency max | {max(latencies):.1f} ms |",
            f"| latency mean | {statistics.fmean(latencies):.1f} ms |",
            f"| delivery after commit (event `at` -> socket receipt) p50 / p99 | "
            f"{percentile(after_commit, 50):.1f} / {percentile(after_commit, 99):.1f} ms |",
            f"| API write response time p50 / p99 | {percentile(api_ms, 50):.1f} / "
            f"{percentile(api_ms, 99):.1f} ms |",
            f"| PostgreSQL connections of the ws processes, after all sockets subscribed | "
            f"{connections_after_open.get('bench-ws:total', 0)} |",
            "| PostgreSQL connections of the ws processes, peak during the run | "
            f"{sampler.peak('bench-ws:total')} "
            f"(busy peak {sampler.peak('bench-ws:busy')}) |",
            f"| PostgreSQL connections of the web process, peak | {sampler.peak('bench-web:total')} |",
            f"| PostgreSQL connections to the database, peak (all) | {sampler.peak('all:total')} |",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(report)
        return 0 if len(latencies) == expected else 1
    finally:
        for server in processes:
            server.terminate()
        for server in processes:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
