"""Prometheus metrics across processes: a web replica's metrics port sums all its workers; a ws
process serves the live-event lag of the events it hands to its sockets."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis

import stratus
from stratus.accounts.models import User
from stratus.accounts.services import organization_create
from stratus.realtime.events import deliver_now
from stratus.realtime.tests.conftest import sign_in
from stratus.realtime.tests.harness import Client, asgi_server, realtime_env, unique_prefix
from testsupport.processes import PROJECT_DIR, child_env, free_port, server_database_url, stop_process

pytestmark = pytest.mark.subprocess


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _requests_in(exposition: str, route: str) -> float:
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith("stratus_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.django_db(transaction=True)
def test_a_web_replica_serves_the_sum_of_all_its_workers(tmp_path: Path) -> None:
    """Three Gunicorn workers behind one metrics port: a scrape counts every worker's requests."""
    port, metrics_port = free_port(), free_port()
    env = child_env(
        {
            "DATABASE_URL": server_database_url(),
            "DEBUG": "false",
            "LOG_LEVEL": "warning",
            "PORT": str(port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "3",
            "METRICS_PORT": str(metrics_port),
            "METRICS_ADDRESS": "127.0.0.1",
            "METRICS_DIR": str(tmp_path / "metrics"),
            "STARTUP_WAIT": "false",
            "GUNICORN_ACCESS_LOG": "false",
            "PYTHON": sys.executable,
        }
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            ["sh", str(PROJECT_DIR / "deploy" / "entrypoint.sh"), "web"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _scrape(f"http://127.0.0.1:{port}/health/live")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail(f"the web process did not start:\n{log.read().decode(errors='replace')}")
                    time.sleep(0.2)
            sent = 30
            for _ in range(sent):
                with pytest.raises(urllib.error.HTTPError):
                    _scrape(f"http://127.0.0.1:{port}/api/v1/contacts")  # 401: no credentials
            exposition = _scrape(f"http://127.0.0.1:{metrics_port}/metrics")
            assert _requests_in(exposition, "api/v1/contacts") == sent
            # Each worker that answered wrote its own file; the scrape above summed them.
            (folder,) = (tmp_path / "metrics").iterdir()
            assert len({re.sub(r"\D", "", file.name) for file in folder.glob("counter_*.db")}) >= 2
            assert (
                'stratus_build_info{commit="unknown",version="' + stratus.__version__ + '"} 1.0' in exposition
            )
            # The metrics port is the only place they are served: the site itself has no /metrics.
            with pytest.raises(urllib.error.HTTPError) as refused:
                _scrape(f"http://127.0.0.1:{port}/api/v1/metrics")
            assert refused.value.code == 404
        finally:
            stop_process(process, 30)


def _sample(exposition: str, name: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines() if line.startswith(name + " ")
    ]
    return sum(values)


@pytest.mark.django_db(transaction=True)
def test_a_ws_process_serves_its_live_event_lag(settings: Any, tmp_path: Path) -> None:
    """A real ws process (uvicorn, as production runs it) with a socket subscribed: an event
    published elsewhere reaches the socket, and the process's metrics port shows it observed."""
    prefix = unique_prefix()
    metrics_port = free_port()
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [settings.REALTIME_REDIS_URL], "prefix": f"{prefix}:layer"},
        }
    }
    user = User.objects.create_user("lag@metrics.example", "a-long-password-1")
    organization = organization_create(name="Lag", owner=user)
    cookie = sign_in(user)
    env = realtime_env(prefix, METRICS_PORT=str(metrics_port), METRICS_ADDRESS="127.0.0.1")
    with asgi_server(env, tmp_path) as server:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        assert _sample(_scrape(metrics_url), "stratus_live_event_lag_seconds_count") == 0

        async def scenario() -> dict[str, Any]:
            client = await Client.open(server.ws_url, cookie=cookie, origin=server.http_url)
            try:
                await client.subscribe()
                await asyncio.to_thread(
                    deliver_now,
                    organization_id=organization.pk,
                    event_json='"contact.created"',
                    data_json='{"id":1}',
                )
                return await client.next()
            finally:
                await client.close()

        event = asyncio.run(scenario())
        assert event["event"] == "contact.created"
        exposition = _scrape(metrics_url)
    assert _sample(exposition, "stratus_live_event_lag_seconds_count") == 1
    assert _sample(exposition, "stratus_live_event_lag_seconds_sum") >= 0
    log = redis.Redis.from_url(settings.REALTIME_REDIS_URL)
    if keys := list(log.scan_iter(f"{prefix}:*")):
        log.delete(*keys)
