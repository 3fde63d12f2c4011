"""Waiting for backing services at start-up, with exponential backoff and jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from stratus.platform.health import unapplied_migrations


@dataclass(frozen=True)
class Service:
    name: str
    probe: Callable[[], None]


def probe_database() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        # A direct connection, not the pool: each attempt is bounded by connect_timeout.
        import psycopg

        with psycopg.connect(**connection.get_connection_params()) as raw:
            raw.execute("SELECT 1")
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def probe_redis() -> None:
    import redis

    client = redis.Redis.from_url(str(settings.REDIS_URL), socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def probe_migrations() -> None:
    pending = unapplied_migrations()
    connections[DEFAULT_DB_ALIAS].close()
    if pending:
        raise RuntimeError(f"{len(pending)} migration(s) not applied yet, first {pending[0]}")


def services_to_wait_for(*, include_migrations: bool) -> list[Service]:
    services = [Service("database", probe_database)]
    if settings.REDIS_URL:
        services.append(Service("redis", probe_redis))
    if include_migrations:
        services.append(Service("migrations", probe_migrations))
    return services


def backoff_delays(base: float, cap: float) -> Callable[[int], float]:
    """Full-jitter exponential backoff: attempt n sleeps uniformly in [0, min(cap, base * 2**n)]."""

    def delay(attempt: int) -> float:
        return random.uniform(0, min(cap, base * (2**attempt)))

    return delay


def wait_for(
    service: Service,
    *,
    deadline: float,
    report: Callable[[str], None],
    base: float = 0.25,
    cap: float = 5.0,
) -> None:
    """Probe until it succeeds; raise TimeoutError with the last error at the deadline."""
    delay = backoff_delays(base, cap)
    attempt = 0
    while True:
        try:
            service.probe()
        except Exception as error:  # any failure is a reason to retry until the deadline
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{service.name}: {type(error).__name__}: {error}") from error
            pause = min(remaining, max(0.05, delay(attempt)))
            report(f"{service.name} not ready ({type(error).__name__}: {error}); retrying in {pause:.1f}s")
            time.sleep(pause)
            attempt += 1
        else:
            report(f"{service.name} ready")
            return
