"""The embedded default: `make run`'s web process serves HTTP and WebSocket with no Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stratus.platform.testing import PROJECT_DIR, child_env, free_port, manage
from stratus.realtime.tests.harness import Client

pytestmark = pytest.mark.cluster


def post(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def procfile_web_command() -> str:
    for line in (PROJECT_DIR / "Procfile.dev").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("Procfile.dev has no web process")


def test_procfile_web_process_serves_api_and_live_updates_without_redis(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = manage("create_org", "Embedded", "--owner", "owner@embedded.example", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]

    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_web_command()}"],
            cwd=PROJECT_DIR,
            env=child_env({**env, "HOST": "127.0.0.1", "PORT": str(port)}),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{base}/health/live", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)

        async def scenario() -> None:
            ticket = post(f"{base}/api/v1/realtime/tickets", token, {})
            assert ticket["url"] == "/ws/"
            assert ticket["organization"] == "embedded"
            client = await Client.open(f"ws://127.0.0.1:{port}/ws/")
            subscribed = await client.subscribe(ticket=ticket["ticket"])
            assert subscribed["organization"] == "embedded"

            contact = await asyncio.to_thread(
                post, f"{base}/api/v1/contacts", token, {"first_name": "Ada", "last_name": "Lovelace"}
            )
            event = await client.next()
            assert (event["type"], event["event"], event["data"]["id"]) == (
                "event",
                "contact.created",
                contact["id"],
            )

            # A ticket opens one socket only.
            again = await Client.open(f"ws://127.0.0.1:{port}/ws/")
            await again.send({"type": "subscribe", "ticket": ticket["ticket"]})
            assert await again.closed_with() == (4401, "ticket already used")
            await client.close()

        asyncio.run(scenario())
    finally:
        server.terminate()
        server.wait(timeout=15)
