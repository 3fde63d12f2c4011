from __future__ import annotations

import json

import pytest
from django.test import Client

from stratus.platform.health import draining
from testsupport.processes import free_port

pytestmark = pytest.mark.django_db


def test_ready_reports_each_check_with_latency_when_all_is_well(client: Client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "redis", "storage", "search_index"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", name
        assert isinstance(check["latency_ms"], float)


@pytest.mark.parametrize("path", ["/health/", "/api/v1/health/"])
def test_seed_aliases_answer_like_ready(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_live_touches_no_backing_service(client: Client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_turns_503_while_draining(client: Client) -> None:
    draining.begin()
    try:
        response = client.get("/health/ready")
    finally:
        draining.reset()
    assert response.status_code == 503
    assert response.json()["status"] == "draining"


READY_STATUS_SCRIPT = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/health/ready")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


@pytest.mark.subprocess
def test_ready_is_503_naming_the_database_when_its_port_is_closed() -> None:
    from testsupport.processes import run_python

    port = free_port()
    result = run_python(
        READY_STATUS_SCRIPT,
        env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/stratus", "REDIS_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["status"] == "unavailable"
    database = outcome["body"]["checks"]["database"]
    assert database["status"] == "failing"
    assert "connection" in database["detail"].lower() or "timeout" in database["detail"].lower()
    assert outcome["body"]["checks"]["migrations"]["status"] == "failing"


@pytest.mark.subprocess
def test_redis_outage_degrades_readiness_without_failing_it() -> None:
    from django.conf import settings as live

    from testsupport.processes import run_python

    port = free_port()
    result = run_python(
        READY_STATUS_SCRIPT,
        env={
            "DATABASE_URL": _current_database_url(live),
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        },
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 200
    assert outcome["body"]["status"] == "degraded"
    assert outcome["body"]["checks"]["redis"]["status"] == "degraded"


@pytest.mark.subprocess
def test_a_separate_broker_redis_is_checked_and_its_outage_only_degrades() -> None:
    from django.conf import settings as live

    from testsupport.processes import run_python

    port = free_port()
    env = {"DATABASE_URL": _current_database_url(live), "REDIS_URL": str(live.REDIS_URL)}
    down = run_python(READY_STATUS_SCRIPT, env={**env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"})
    assert down.returncode == 0, down.stderr
    outcome = json.loads(down.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 200
    assert outcome["body"]["status"] == "degraded"
    assert outcome["body"]["checks"]["broker"]["status"] == "degraded"
    assert outcome["body"]["checks"]["redis"]["status"] == "ok"

    same = run_python(READY_STATUS_SCRIPT, env={**env, "CELERY_BROKER_URL": str(live.REDIS_URL)})
    assert same.returncode == 0, same.stderr
    checks = json.loads(same.stdout.strip().splitlines()[-1])["body"]["checks"]
    assert "broker" not in checks

    up = run_python(READY_STATUS_SCRIPT, env={**env, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15"})
    assert up.returncode == 0, up.stderr
    outcome = json.loads(up.stdout.strip().splitlines()[-1])
    assert outcome["body"]["checks"]["broker"]["status"] == "ok"


@pytest.mark.subprocess
def test_health_command_exits_non_zero_when_not_ready() -> None:
    from testsupport.processes import manage

    port = free_port()
    result = manage("health", env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/stratus"})
    assert result.returncode == 1
    assert json.loads(result.stdout)["checks"]["database"]["status"] == "failing"


@pytest.mark.subprocess
def test_health_command_exits_zero_when_ready() -> None:
    from django.conf import settings as live

    from testsupport.processes import manage

    result = manage(
        "health", env={"DATABASE_URL": _current_database_url(live), "REDIS_URL": str(live.REDIS_URL)}
    )
    # The child reads the suite's test database, migrated by pytest-django.
    assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads(result.stdout)
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"


def _current_database_url(live) -> str:
    config = live.DATABASES["default"]
    return f"postgres://{config['USER'] or 'postgres'}@{config['HOST']}:{config['PORT']}/{config['NAME']}"
