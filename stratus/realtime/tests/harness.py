"""Real uvicorn processes and a real WebSocket client for the live-update suites."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from testsupport.processes import PROJECT_DIR, child_env, free_port, stop_process

WAIT = 15.0  # upper bound for anything the suite waits on; never a speed assertion


def suite_database_url(**query: str) -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}{suffix}"


@dataclass
class Server:
    host: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}/ws/"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def asgi_server(env: Mapping[str, str], log_dir: Path) -> Iterator[Server]:
    """``uvicorn stratus.asgi:application`` on a free port, as the ws process runs in production."""
    port = free_port()
    log = log_dir / f"uvicorn-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
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
            ],
            cwd=PROJECT_DIR,
            env=child_env(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(host=f"127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, server.output()
            try:
                with urllib.request.urlopen(f"{server.http_url}/health/live", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            stop_process(process, 15)


def realtime_env(prefix: str, **extra: str) -> dict[str, str]:
    """What a Stratus process needs to share the suite's database, Redis and realtime prefix."""
    return {
        "DATABASE_URL": suite_database_url(),
        "REDIS_URL": settings.REDIS_URL or "",
        "REALTIME_REDIS_URL": settings.REALTIME_REDIS_URL or "",
        "REALTIME_PREFIX": prefix,
        "LOG_LEVEL": "warning",
        **extra,
    }


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


class Client:
    """One WebSocket connection with helpers to read the protocol's JSON messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, *, cookie: str | None = None, origin: str | None = None) -> Client:
        headers = {}
        if cookie:
            headers["Cookie"] = cookie
        if origin:
            headers["Origin"] = origin
        ws = await connect(url, additional_headers=headers, open_timeout=WAIT)
        return cls(ws)

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, skip_heartbeats: bool = True) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))
            if not (skip_heartbeats and message.get("type") == "heartbeat"):
                return message

    async def subscribe(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "subscribe", **fields})
        reply = await self.next()
        assert reply["type"] == "subscribed", reply
        return reply

    async def closed_with(self) -> tuple[int | None, str]:
        """Read until the server closes (within ``WAIT`` in all, heartbeats or not); the close
        code and reason it sent."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame else (None, "")

    async def close(self) -> None:
        await self.ws.close()
