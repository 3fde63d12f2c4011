"""deploy/gunicorn.conf.py as gunicorn itself reads it, and the draining shutdown of a real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.helpers import entrypoint_process, request, wait_until_answers
from testsupport.processes import PROJECT_DIR, child_env, free_port

pytestmark = pytest.mark.cluster

CONFIG = PROJECT_DIR / "deploy" / "gunicorn.conf.py"


def effective_config(**env: str) -> dict[str, str]:
    """`gunicorn --print-config`: the settings gunicorn really uses with this environment."""
    base = child_env(env)
    for name in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "PORT", "GUNICORN_BIND"):
        if name not in env:
            base.pop(name, None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(CONFIG),
            "--print-config",
            "stratus.wsgi:application",
        ],
        cwd=PROJECT_DIR,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    values = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def test_defaults_follow_the_cpu_count_and_the_documented_values() -> None:
    config = effective_config()
    cpus = len(os.sched_getaffinity(0))
    assert int(config["workers"]) == max(3, 2 * cpus + 1)
    assert config["timeout"] == "60"
    assert config["graceful_timeout"] == "30"
    assert config["max_requests"] == "1000"
    assert config["max_requests_jitter"] == "100"
    assert config["forwarded_allow_ips"] == "[]"  # no proxy trusted unless TRUSTED_PROXIES says so
    assert config["limit_request_line"] == "8190"
    assert config["limit_request_fields"] == "100"
    assert config["limit_request_field_size"] == "8190"
    assert config["bind"] == "['0.0.0.0:8000']"
    assert config["accesslog"] == "-"
    assert "JsonAccessLogger" in config["logger_class"]
    assert "when_ready" in config["when_ready"]
    assert "post_worker_init" in config["post_worker_init"]


def test_environment_overrides() -> None:
    config = effective_config(
        WEB_CONCURRENCY="7",
        GUNICORN_TIMEOUT="45",
        GUNICORN_GRACEFUL_TIMEOUT="12",
        GUNICORN_MAX_REQUESTS="500",
        GUNICORN_MAX_REQUESTS_JITTER="25",
        TRUSTED_PROXIES="10.0.0.0/24, 10.1.2.3",
        GUNICORN_LIMIT_REQUEST_FIELDS="50",
        PORT="9001",
        GUNICORN_THREADS="4",
    )
    assert config["workers"] == "7"
    assert config["timeout"] == "45"
    assert config["graceful_timeout"] == "12"
    assert config["max_requests"] == "500"
    assert config["max_requests_jitter"] == "25"
    assert config["forwarded_allow_ips"] == "['10.0.0.0/24', '10.1.2.3/32']"
    assert config["limit_request_fields"] == "50"
    assert config["bind"] == "['0.0.0.0:9001']"
    assert config["threads"] == "4"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_TIMEOUT", "soon", "GUNICORN_TIMEOUT: expected an integer, got 'soon'"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: must be at least 1, got 0"),
        ("GUNICORN_DRAIN_SECONDS", "-1", "GUNICORN_DRAIN_SECONDS: must not be negative"),
        ("TRUSTED_PROXIES", "*", "TRUSTED_PROXIES: '*' would let any client choose its own address"),
        ("TRUSTED_PROXIES", "nginx", "TRUSTED_PROXIES: 'nginx' is not an IP address or CIDR network"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name: str, value: str, message: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(CONFIG),
            "--check-config",
            "stratus.wsgi:application",
        ],
        cwd=PROJECT_DIR,
        env=child_env({name: value}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_sigterm_drains_readiness_first_then_stops(production_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "web.log"
    env = {**production_env, "WEB_CONCURRENCY": "2", "GUNICORN_DRAIN_SECONDS": "4", "LOG_LEVEL": "info"}
    with entrypoint_process("web", env, port=port, log=log) as server:
        wait_until_answers(port, process=server)
        before = request(port, "/health/ready")
        assert before.status == 200, before.body

        server.send_signal(signal.SIGTERM)
        statuses: list[int] = []
        draining_bodies = []
        deadline = time.monotonic() + 30
        served_during_drain = 0
        while server.poll() is None and time.monotonic() < deadline:
            try:
                ready = request(port, "/health/ready", timeout=5)
                live = request(port, "/health/live", timeout=5)
            except OSError:
                break  # the listener is closed: the drain period is over
            statuses.append(ready.status)
            if ready.status == 503:
                draining_bodies.append(json.loads(ready.body))
                served_during_drain += live.status == 200
        code = server.wait(timeout=60)

    # Readiness switched to 503 while the server still served, on every worker it reached...
    assert 503 in statuses, statuses
    first_503 = statuses.index(503)
    assert all(status == 503 for status in statuses[first_503:]), statuses
    assert all(body["status"] == "draining" for body in draining_bodies)
    assert served_during_drain >= 2, "the process kept serving while it drained"
    # ...then it stopped by itself, cleanly, and no longer accepts connections.
    assert code == 0, log.read_text()[-3000:]
    with pytest.raises(OSError):
        request(port, "/health/live", timeout=2)
    text = log.read_text()
    assert "draining for 4.0s" in text


def test_access_log_is_json_with_the_request_id(production_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "web.log"
    env = {**production_env, "WEB_CONCURRENCY": "1", "GUNICORN_DRAIN_SECONDS": "0"}
    with entrypoint_process("web", env, port=port, log=log) as server:
        wait_until_answers(port, process=server)
        response = request(
            port,
            "/health/live?probe=1",
            headers={"X-Request-ID": "trace-42", "User-Agent": 'a "quoted" agent'},
        )
        assert response.status == 200
    lines = [json.loads(line) for line in log.read_text().splitlines() if '"gunicorn.access"' in line]
    entry = next(line for line in lines if line["query"] == "probe=1")
    assert entry["request_id"] == "trace-42"
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert entry["path"] == "/health/live"
    assert entry["user_agent"] == 'a "quoted" agent'
