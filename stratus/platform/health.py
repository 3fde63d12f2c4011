"""Liveness and readiness.

Liveness touches nothing outside the process. Readiness checks each backing
service and reports status and latency; a failing *critical* check (database,
migrations) makes it answer 503 so a load balancer stops routing here. Redis (the
cache and, when it is a server of its own, the Celery broker) and object storage are
reported as ``degraded`` without failing readiness: the cache fails open, background
work is a committed row that the sweeps send once the broker is back, and documents
are one feature among many, so pulling every replica out of rotation during their
outage would turn a partial outage into a full one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from stratus.platform.storage import is_s3, probe_bucket


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    critical: bool
    latency_ms: float
    detail: str = ""

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "failing" if self.critical else "degraded"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "latency_ms": self.latency_ms}
        if self.detail:
            data["detail"] = self.detail
        if not self.critical:
            data["critical"] = False
        return data


class _Draining:
    """Set when a graceful shutdown begins, so readiness drains this process first."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def begin(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        self._event.clear()


draining = _Draining()
_migrations_applied = False


def check_database() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    pool = getattr(connection, "pool", None)
    if pool is not None:
        pool.open(wait=False)  # opened lazily by the first query; idempotent
        # Bounded wait: a request for readiness must not queue behind the pool's own timeout.
        with pool.connection(timeout=settings.HEALTH_CHECK_TIMEOUT) as raw:
            raw.execute("SELECT 1").fetchone()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def unapplied_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_migrations() -> None:
    # Once applied, migrations stay applied for the life of this process: skip the graph load.
    global _migrations_applied
    if _migrations_applied:
        return
    pending = unapplied_migrations()
    if pending:
        raise RuntimeError(f"{len(pending)} unapplied migration(s), first {pending[0]}")
    _migrations_applied = True


def check_cache() -> None:
    ping = getattr(cache, "ping", None)
    if ping is not None:
        ping()


_broker_clients: dict[str, Any] = {}


def check_broker() -> None:
    """PING the Celery broker when it is a Redis of its own (not the cache's): a broker-only
    outage does not stop requests (work is a committed row, swept later) but delays it."""
    import redis

    url = settings.CELERY_BROKER_URL
    client = _broker_clients.get(url)
    if client is None:
        timeout = settings.HEALTH_CHECK_TIMEOUT
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        _broker_clients[url] = client
    client.ping()


def separate_broker() -> bool:
    url = settings.CELERY_BROKER_URL or ""
    return url.startswith(("redis://", "rediss://")) and url != (settings.REDIS_URL or "")


def check_storage() -> None:
    backend = default_storage
    if is_s3(backend):  # S3-compatible: the bucket must answer, within the health timeout
        probe_bucket(backend, settings.HEALTH_CHECK_TIMEOUT)
        return
    location = getattr(backend, "location", None)
    if location is not None:
        os.makedirs(location, exist_ok=True)
        if not os.access(location, os.W_OK):
            raise RuntimeError(f"media folder {location} is not writable")


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], None]
    critical: bool


def configured_checks() -> list[Check]:
    checks = [
        Check("database", check_database, critical=True),
        Check("migrations", check_migrations, critical=True),
    ]
    if settings.REDIS_URL:
        checks.append(Check("redis", check_cache, critical=False))
    if separate_broker():
        checks.append(Check("broker", check_broker, critical=False))
    checks.append(Check("storage", check_storage, critical=False))
    if settings.ANALYTICS_URL:
        from stratus.analytics.health import check_analytics

        checks.append(Check("analytics", check_analytics, critical=False))
    return checks


def run_check(check: Check) -> CheckResult:
    started = time.perf_counter()
    try:
        check.run()
    except Exception as error:  # a health check reports every failure, whatever its kind
        detail = f"{type(error).__name__}: {error}".strip()[:300]
        ok = False
    else:
        detail = ""
        ok = True
    latency = round((time.perf_counter() - started) * 1000, 2)
    return CheckResult(check.name, ok, check.critical, latency, detail)


def readiness() -> tuple[bool, dict[str, Any]]:
    """Run every check; ready when no critical check fails and no shutdown is under way."""
    results = []
    for check in configured_checks():
        result = run_check(check)
        results.append(result)
        if check.name == "database" and not result.ok:
            # Without a database the migration state cannot be read; say so instead of timing out twice.
            results.append(CheckResult("migrations", False, True, 0.0, "database unavailable"))
            break
    ready = all(r.ok or not r.critical for r in results) and not draining.is_set()
    if draining.is_set():
        status = "draining"
    elif not ready:
        status = "unavailable"
    elif all(r.ok for r in results):
        status = "ok"
    else:
        status = "degraded"
    body = {
        "status": status,
        "checks": {r.name: r.as_dict() for r in results},
    }
    return ready, body
