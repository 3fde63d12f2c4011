"""The embedded default: `make run`'s web process serves HTTP and WebSocket with no Redis,
and events raised in other processes (the worker) reach its sockets through the database log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stratus.realtime.tests.harness import Client
from testsupport.processes import PROJECT_DIR, child_env, free_port, manage, run_python

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


def procfile_command(name: str) -> str:
    for line in (PROJECT_DIR / "Procfile.dev").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.removeprefix(f"{name}:").strip()
    raise AssertionError(f"Procfile.dev has no {name} process")


@contextmanager
def procfile_process(name: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Procfile.dev line as honcho runs it, in its own process group, stopped at the end."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_command(name)}"],
            cwd=PROJECT_DIR,
            env=child_env(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def embedded_site(tmp_path: Path) -> tuple[dict[str, str], str]:
    """A migrated data folder with one organization; its environment and the owner's API token."""
    env = {"DATA_DIR": str(tmp_path / "data")}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = manage("create_org", "Embedded", "--owner", "owner@embedded.example", env=env)
    assert created.returncode == 0, created.stderr
    return env, created.stdout.strip().splitlines()[-1]


@contextmanager
def embedded_web(env: dict[str, str], log: Path) -> Iterator[int]:
    """The Procfile.dev web process, answering; yields its port."""
    port = free_port()
    with procfile_process("web", {**env, "HOST": "127.0.0.1", "PORT": str(port)}, log) as server:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield port


def test_procfile_web_process_serves_api_and_live_updates_without_redis(tmp_path: Path) -> None:
    env, token = embedded_site(tmp_path)
    with embedded_web(env, tmp_path / "web.log") as port:
        base = f"http://127.0.0.1:{port}"

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


RAISE_ELSEWHERE = """
import django
django.setup()
from django.utils import timezone
from stratus.accounts.models import Organization, User
from stratus.crm import services as crm
from stratus.crm.models import Activity
from stratus.reminders import services as reminders

org = Organization.objects.get(slug="embedded")
user = User.objects.get(email="owner@embedded.example")
contact = crm.contact_create(org=org, actor=user, first_name="Grace", last_name="Hopper")
activity = Activity.objects.create(organization=org, subject="Call Grace", assignee=user, contact=contact)
reminders.reminder_create(org=org, actor=user, activity=activity, remind_at=timezone.now())
print(contact.pk)
"""


def test_events_raised_in_other_processes_reach_the_web_process_sockets(tmp_path: Path) -> None:
    env, token = embedded_site(tmp_path)
    with embedded_web(env, tmp_path / "web.log") as port:

        async def scenario() -> None:
            ticket = post(f"http://127.0.0.1:{port}/api/v1/realtime/tickets", token, {})
            client = await Client.open(f"ws://127.0.0.1:{port}/ws/")
            subscribed = await client.subscribe(ticket=ticket["ticket"])

            # A write in a short-lived process of its own (as `manage.py shell` would make) ...
            raised = await asyncio.to_thread(run_python, RAISE_ELSEWHERE, env=env)
            assert raised.returncode == 0, raised.stderr
            contact_id = int(raised.stdout.strip().splitlines()[-1])
            received = [await client.next()]
            assert (received[0]["event"], received[0]["data"]["id"]) == ("contact.created", contact_id)

            # ... and the reminder it set, fired by the Procfile.dev worker (filesystem broker).
            worker_env = {**env, "SWEEP_INTERVAL": "1"}
            with procfile_process("worker", worker_env, tmp_path / "worker.log"):
                deadline = time.monotonic() + 90
                while received[-1]["event"] != "notification.created":
                    assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                    try:
                        received.append(await client.next())
                    except TimeoutError:
                        continue
            notification = received[-1]
            assert notification["data"]["title"] == "Reminder: Call Grace"
            seqs = [message["seq"] for message in received]
            assert seqs == sorted(seqs)
            assert seqs[0] == subscribed["seq"] + 1
            await client.close()

        asyncio.run(scenario())


def call(url: str, token: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


REVOKE_ELSEWHERE = """
import os
import django
django.setup()
from stratus.accounts.models import Membership, Organization, Role
from stratus.accounts.services import token_revoke

org = Organization.objects.get(slug="embedded")
owner = Membership.objects.filter(organization=org, role=Role.OWNER).first().user
token_revoke(org=org, actor=owner, token_id=os.environ["REVOKED_TOKEN_ID"])
"""


def test_revoked_tokens_close_their_sockets_without_redis(tmp_path: Path) -> None:
    env, owner_token = embedded_site(tmp_path)
    with embedded_web(env, tmp_path / "web.log") as port:
        base = f"http://127.0.0.1:{port}"

        async def socket_for(token: str) -> Client:
            ticket = await asyncio.to_thread(post, f"{base}/api/v1/realtime/tickets", token, {})
            client = await Client.open(f"ws://127.0.0.1:{port}/ws/")
            await client.subscribe(ticket=ticket["ticket"])
            return client

        async def scenario() -> None:
            tokens = [
                await asyncio.to_thread(post, f"{base}/api/v1/tokens", owner_token, {"name": name})
                for name in ("in-process", "elsewhere")
            ]
            by_api, by_other_process = [await socket_for(token["secret"]) for token in tokens]
            owner = await socket_for(owner_token)

            # Revoked through the API: the web process itself announces it.
            status, _ = await asyncio.to_thread(
                call, f"{base}/api/v1/tokens/{tokens[0]['id']}", owner_token, "DELETE"
            )
            assert status == 204
            assert await by_api.closed_with() == (4401, "the API token was revoked or expired")

            # Revoked in another process (a shell, a management command): found in the log.
            elsewhere = {**env, "REVOKED_TOKEN_ID": tokens[1]["id"]}
            revoked = await asyncio.to_thread(run_python, REVOKE_ELSEWHERE, env=elsewhere)
            assert revoked.returncode == 0, revoked.stderr
            assert await by_other_process.closed_with() == (4401, "the API token was revoked or expired")

            # The owner's socket stayed open and still receives.
            contact = await asyncio.to_thread(
                post, f"{base}/api/v1/contacts", owner_token, {"first_name": "Ada", "last_name": "Lovelace"}
            )
            event = await owner.next()
            assert (event["event"], event["data"]["id"]) == ("contact.created", contact["id"])
            await owner.close()

        asyncio.run(scenario())
