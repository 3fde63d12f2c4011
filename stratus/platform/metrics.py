"""Prometheus metrics of every Stratus process (web, ws, worker, beat).

Each process kind serves its metrics on an internal port of its own (``METRICS_PORT``, bound to
``METRICS_ADDRESS``); Nginx never routes to it and Compose never publishes it, so only the
monitoring network can scrape it. Unset ``METRICS_PORT`` and no metrics server starts (the
counters still count, in memory).

Processes that fork workers (Gunicorn's web workers, Celery's prefork children) write their
samples to files under ``PROMETHEUS_MULTIPROC_DIR`` (the client library's multiprocess mode;
the entrypoint gives each process kind a fresh folder) and the parent serves the sum, so a
scrape always sees every worker of the replica, never one at random.

The metrics are declared here, once; the code that counts imports them from here. Labels never
carry raw URLs or ids: requests are labelled by their route template.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)

# --- Web and ws: requests ---------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "stratus_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "stratus_http_request_duration_seconds",
    "Time to answer an HTTP request in the application, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

# --- Database pool (psycopg_pool), per process, summed over the live workers ------------------

DB_POOL_CONNECTIONS = Gauge(
    "stratus_db_pool_connections",
    "Connections of the database pool: open (size) and in use.",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "stratus_db_pool_waiting_requests",
    "Requests waiting for a connection from the database pool right now.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITS = Counter(
    "stratus_db_pool_waits",
    "Connection requests that had to wait because every pooled connection was in use.",
)
DB_POOL_WAIT_SECONDS = Counter(
    "stratus_db_pool_wait_seconds",
    "Time spent waiting for a pooled database connection.",
)
DB_POOL_ERRORS = Counter(
    "stratus_db_pool_errors",
    "Connection requests that failed (the pool timed out or could not connect).",
)

# --- Cache (fails open) -----------------------------------------------------------------------

CACHE_ERRORS = Counter(
    "stratus_cache_errors",
    "Cache operations that failed and were served without the cache (the cache fails open).",
)

# --- WebSocket live updates -------------------------------------------------------------------

WS_CONNECTIONS = Gauge(
    "stratus_websocket_connections",
    "Open WebSocket connections.",
    multiprocess_mode="livesum",
)
WS_MESSAGES = Counter("stratus_websocket_messages_sent", "Messages sent to WebSocket clients.")
WS_CATCH_UP = Counter(
    "stratus_websocket_catch_up_replays",
    "Catch-ups from the event log: a client resuming after a drop, or a gap found in delivery.",
)
WS_CATCH_UP_EVENTS = Counter(
    "stratus_websocket_catch_up_events",
    "Events replayed to reconnecting clients.",
)
LIVE_EVENT_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LIVE_EVENT_LAG = Histogram(
    "stratus_live_event_lag_seconds",
    "Time from an event's append to the live-event log until this ws process hands it to its "
    "sockets (once per event and process, on the first copy that arrives).",
    buckets=LIVE_EVENT_LAG_BUCKETS,
)

# --- Celery worker and beat -------------------------------------------------------------------

TASKS = Counter(
    "stratus_celery_tasks",
    "Celery tasks finished, by task name and state (succeeded, failed, retried).",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "stratus_celery_task_duration_seconds",
    "Run time of Celery tasks, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)
BEAT_LOCK_HELD = Gauge(
    "stratus_beat_lock_held",
    "1 when this beat process holds the scheduler lock (the one that dispatches), else 0.",
    multiprocess_mode="liveall",
)
BEAT_LAST_DISPATCH = Gauge(
    "stratus_beat_last_dispatch_timestamp_seconds",
    "When this beat process last ran its schedule while holding the lock (Unix time).",
    multiprocess_mode="max",
)

# --- Campaign sending (counted where messages are handed to the mail server) --------------------

CAMPAIGN_MESSAGES_SENT = Counter(
    "stratus_campaign_messages_sent",
    "Campaign messages handed to the mail server.",
)

BUILD_INFO = Gauge(
    "stratus_build_info",
    "Always 1; the labels say which version and commit this process runs.",
    ["version", "commit"],
    multiprocess_mode="max",
)


def record_build_info() -> None:
    from stratus import __version__

    BUILD_INFO.labels(version=__version__, commit=os.environ.get("STRATUS_COMMIT", "unknown")).set(1)


def observe_pool(pool: Any) -> None:
    """Copy a psycopg pool's statistics into the pool metrics (cheap: no I/O)."""
    stats = pool.pop_stats()
    DB_POOL_CONNECTIONS.labels(state="open").set(stats.get("pool_size", 0))
    DB_POOL_CONNECTIONS.labels(state="in_use").set(stats.get("pool_size", 0) - stats.get("pool_available", 0))
    DB_POOL_WAITING.set(stats.get("requests_waiting", 0))
    if queued := stats.get("requests_queued", 0):
        DB_POOL_WAITS.inc(queued)
    if waited_ms := stats.get("requests_wait_ms", 0):
        DB_POOL_WAIT_SECONDS.inc(waited_ms / 1000)
    if errors := stats.get("requests_errors", 0):
        DB_POOL_ERRORS.inc(errors)


def observe_database_pools() -> None:
    """The pool statistics of this process's database connections (when pooling is on)."""
    from django.db import connections

    for alias in connections:
        # Only a pool this process already opened (reading ``.pool`` would open one).
        pool = getattr(connections[alias], "_connection_pools", {}).get(alias)
        if pool is not None:
            observe_pool(pool)


# --- Serving ----------------------------------------------------------------------------------


def multiprocess_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def registry_for_this_process() -> CollectorRegistry:
    """The registry a metrics server serves: the sum over worker files in multiprocess mode."""
    return multiprocess_registry() if os.environ.get(MULTIPROCESS_DIR_VARIABLE) else REGISTRY


_serving: list[str] = []  # the kind this process serves metrics as, once started


def serve(kind: str, *, extra: Iterable[Collector] = ()) -> bool:
    """Start this process's metrics server when ``METRICS_PORT`` is set; True if it started
    (once per process: later calls do nothing).

    ``extra`` collectors are added to what it serves (the beat adds the backlog gauges).
    """
    port = os.environ.get("METRICS_PORT", "").strip()
    if not port or _serving:
        return False
    address = os.environ.get("METRICS_ADDRESS", "0.0.0.0").strip() or "0.0.0.0"  # noqa: S104
    registry = registry_for_this_process()
    for collector in extra:
        registry.register(collector)
    record_build_info()
    start_http_server(int(port), addr=address, registry=registry)
    _serving.append(kind)
    logger.info("metrics: %s serves Prometheus metrics on %s:%s", kind, address, port)
    return True


def mark_process_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (multiprocess mode); counters keep their totals."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        multiprocess.mark_process_dead(pid)


class Timer:
    """``with Timer() as t: ...; t.seconds`` on the monotonic clock."""

    def __enter__(self) -> Timer:
        self.started = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.started
