from __future__ import annotations

import json

import pytest
from django.test import Client

from stratus.platform.request_id import accept_or_generate

LOGGED_REQUEST_SCRIPT = """
import django
django.setup()
from django.test import Client
client = Client()
response = client.get("/no-such-page/", headers={"X-Request-ID": "req-abc.123"})
print("HEADER", response["X-Request-ID"], flush=True)
generated = client.get("/health/live")
print("GENERATED", generated["X-Request-ID"], flush=True)
"""


def test_incoming_id_is_honoured_and_bad_ones_are_replaced() -> None:
    assert accept_or_generate("abc-123") == "abc-123"
    assert len(accept_or_generate(None)) == 32
    replaced = accept_or_generate("evil\nheader injection")
    assert replaced != "evil\nheader injection"
    assert len(replaced) == 32
    assert len(accept_or_generate("x" * 500)) == 32


@pytest.mark.django_db
def test_response_carries_the_incoming_or_a_generated_id(client: Client) -> None:
    assert client.get("/health/live", headers={"X-Request-ID": "abc"})["X-Request-ID"] == "abc"
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]
    assert first != second
    assert len(first) == 32


@pytest.mark.subprocess
def test_every_json_log_line_of_a_request_carries_its_id() -> None:
    from testsupport.processes import run_python

    result = run_python(LOGGED_REQUEST_SCRIPT, env={"LOG_FORMAT": "json", "REDIS_URL": ""})
    assert result.returncode == 0, result.stderr
    assert "HEADER req-abc.123" in result.stdout
    generated = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("GENERATED"))

    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    of_request = [r for r in records if r.get("request_id") == "req-abc.123"]
    # Django's own 404 warning and Stratus's request line, both with the id.
    assert {r["logger"] for r in of_request} >= {"django.request", "stratus.request"}
    access = next(r for r in of_request if r["logger"] == "stratus.request")
    assert access["status"] == 404
    assert access["path"] == "/no-such-page/"
    assert any(r.get("request_id") == generated and r["logger"] == "stratus.request" for r in records)


@pytest.mark.subprocess
def test_production_logs_are_json_by_default() -> None:
    from stratus.platform.tests.test_checks import production_env
    from testsupport.processes import run_python

    result = run_python(
        LOGGED_REQUEST_SCRIPT,
        env=production_env(ALLOWED_HOSTS="testserver", REDIS_URL="redis://127.0.0.1:6379/9"),
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line is a JSON document
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
