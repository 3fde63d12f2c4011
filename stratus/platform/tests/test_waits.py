from __future__ import annotations

import time

import pytest

from stratus.platform.cache import FailOpenRedisCache
from stratus.platform.waits import Service, backoff_delays, wait_for
from testsupport.processes import free_port


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    delay = backoff_delays(base=0.5, cap=4.0)
    samples = {attempt: [delay(attempt) for _ in range(200)] for attempt in range(6)}
    for attempt, values in samples.items():
        ceiling = min(4.0, 0.5 * 2**attempt)
        assert all(0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # jitter spreads over the whole window
        assert min(values) < ceiling * 0.2


def test_wait_retries_until_the_service_answers() -> None:
    attempts = []

    def flaky() -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError("not yet")

    lines: list[str] = []
    wait_for(Service("flaky", flaky), deadline=time.monotonic() + 10, report=lines.append, base=0.01)
    assert len(attempts) == 3
    assert lines[-1] == "flaky ready"
    assert sum("retrying" in line for line in lines) == 2


def test_wait_gives_up_at_the_deadline_with_the_last_error() -> None:
    def down() -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(TimeoutError, match="down: ConnectionRefusedError: refused"):
        wait_for(Service("down", down), deadline=time.monotonic() + 0.3, report=lambda _: None, base=0.01)


@pytest.mark.subprocess
def test_wait_for_services_command_names_the_service_and_exits_non_zero() -> None:
    from testsupport.processes import manage

    result = manage(
        "wait_for_services",
        "--timeout",
        "2",
        env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/stratus", "REDIS_URL": ""},
    )
    assert result.returncode != 0
    assert "gave up after 2s waiting for database" in result.stderr
    assert "retrying in" in result.stderr


@pytest.mark.subprocess
@pytest.mark.django_db
def test_wait_for_services_command_succeeds_when_everything_is_up() -> None:
    from django.conf import settings

    from testsupport.processes import manage

    config = settings.DATABASES["default"]
    url = f"postgres://{config['USER'] or 'postgres'}@{config['HOST']}:{config['PORT']}/{config['NAME']}"
    result = manage(
        "wait_for_services",
        "--timeout",
        "20",
        "--migrations",
        env={"DATABASE_URL": url, "REDIS_URL": str(settings.REDIS_URL)},
    )
    assert result.returncode == 0, result.stderr
    for name in ("database", "redis", "migrations"):
        assert f"{name} ready" in result.stderr


def test_cache_fails_open_when_redis_is_unreachable() -> None:
    cache = FailOpenRedisCache(
        f"redis://127.0.0.1:{free_port()}/0",
        {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}},
    )
    cache.set("k", "v")
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["k"]) == {}
    assert cache.add("k", "v") is False
    assert cache.delete("k") is False
    with pytest.raises(ValueError, match="not found"):
        cache.incr("k")
    with pytest.raises(Exception, match="Connection"):
        cache.ping()


def test_cache_works_normally_when_redis_is_up() -> None:
    from django.core.cache import cache

    cache.set("stratus-test-key", {"a": 1}, 30)
    assert cache.get("stratus-test-key") == {"a": 1}
    assert cache.add("stratus-test-counter", 0) is True
    assert cache.incr("stratus-test-counter", 2) == 2
    assert cache.get("stratus-test-counter") == 2
