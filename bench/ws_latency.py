"""Live-update delivery latency with many open sockets on two ws processes.

Starts, on this machine: a scratch PostgreSQL database (migrated), one web process
(gunicorn, 2 workers), two ws processes (uvicorn stratus.asgi:application), all sharing
one Redis (a fresh key prefix). Opens N sockets split over the two ws processes (from
two client processes, each signing in by session cookie), then writes through the REST
API (contact creates with an API token, one at a time at a fixed rate). For every event
and socket it records the time from just before the API request was sent to receipt on
the socket (when the frame's bytes are read from the socket), and from the event's commit
(its ``at``) to receipt; it also samples pg_stat_activity during the run. The servers are
started fresh, as a deployment or a worker recycled after GUNICORN_MAX_REQUESTS would be:
apart from the health check that waits for start-up, nothing is warmed up by the
benchmark, and every write is counted.

    uv run python bench/ws_latency.py --sockets 1000 --writes 100 --rate 5

Prints a Markdown report; --out writes it to a file as well.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
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
from typing import Any, cast

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.children import child_env, free_port, manage, wait_http  # noqa: E402


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
#
# A minimal RFC 6455 client on asyncio's Protocol API: the receipt time of a frame is taken
# when its bytes are read from the socket (once per read), and frames are only split and kept
# while the run lasts; decoding JSON waits until the end. A full client library that decodes
# each message in a task of its own before looking at the clock would charge the time it
# spends on the other 499 sockets' frames to the later ones, and take CPU from the servers.

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FrameClient(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.frames: list[tuple[float, bytes]] = []  # (receipt time, text payload)
        self.first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[: end + 4])
            del self.buffer[: end + 4]
            self.upgraded = True
            self.handshake.set_result(head)
        buffer = self.buffer
        while len(buffer) >= 2:
            opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            if opcode == 0x1:  # text (the server sends each message in one frame)
                if not self.first.done():
                    self.first.set_result(payload)
                else:
                    self.frames.append((now, payload))
            elif opcode == 0x9:  # ping
                self.send_frame(0xA, payload)
            elif opcode == 0x8 and self.transport is not None:  # close
                self.transport.close()


async def open_socket(host: str, port: int, cookie: str, origin: str) -> FrameClient:
    loop = asyncio.get_running_loop()
    _transport, client = await loop.create_connection(FrameClient, host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    assert client.transport is not None
    client.transport.write(request.encode())
    head = await asyncio.wait_for(client.handshake, 30)
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    if not head.startswith(b"HTTP/1.1 101") or accept.encode() not in head:
        raise SystemExit(f"WebSocket handshake failed: {head!r}")
    client.send_frame(0x1, json.dumps({"type": "subscribe"}).encode())
    reply = json.loads(await asyncio.wait_for(client.first, 30))
    assert reply["type"] == "subscribed", reply
    return client


async def _client_main(host: str, port: int, cookie: str, count: int, ready: Any, go: Any, out: Any) -> None:
    origin = f"http://{host}:{port}"
    sockets = [await open_socket(host, port, cookie, origin) for _ in range(count)]
    ready.set()
    while not go.is_set():
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # let the last deliveries arrive
    for client in sockets:
        if client.transport is not None:
            client.send_frame(0x8, (1000).to_bytes(2, "big"))
    await asyncio.wait([asyncio.ensure_future(client.closed) for client in sockets], timeout=10)
    received: list[tuple[int, float, float]] = []  # (record id, receipt time, commit time)
    for client in sockets:
        for at, payload in client.frames:
            message = json.loads(payload)
            if message["type"] == "event" and message["event"] == "contact.created":
                committed = datetime.fromisoformat(message["at"]).timestamp()
                received.append((message["data"]["id"], at, committed))
    out.put((received, time.process_time()))


def client_process(host: str, port: int, cookie: str, count: int, ready: Any, go: Any, out: Any) -> None:
    try:
        import uvloop

        uvloop.run(_client_main(host, port, cookie, count, ready, go, out))
    except ImportError:
        asyncio.run(_client_main(host, port, cookie, count, ready, go, out))


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
            proc = ctx.Process(target=client_process, args=("127.0.0.1", port, cookie, count, ready, go, out))
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
        client_cpu: list[float] = []
        for _ in clients:
            received, cpu = out.get(timeout=120)
            results.extend(received)
            client_cpu.append(cpu)
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
            "2 client processes (a minimal asyncio WebSocket client that notes the time each frame is read "
            "from its socket), PostgreSQL and Redis on the same machine",
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
            f"| API write response time max; first three writes | {max(api_ms):.1f} ms; "
            + ", ".join(f"{responded[i] * 1000:.1f}" for i in sorted(responded)[:3])
            + " ms |",
            "| CPU time of the client processes (whole run, incl. opening the sockets) | "
            + " + ".join(f"{cpu:.2f}" for cpu in client_cpu)
            + " s |",
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
