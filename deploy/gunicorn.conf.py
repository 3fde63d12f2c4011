"""Gunicorn configuration for the `web` process, every value from the environment.

Graceful shutdown drains first: on SIGTERM the master tells every worker to begin draining
(readiness answers 503 from then on, so load balancers and Kubernetes stop routing here),
keeps serving for GUNICORN_DRAIN_SECONDS, and only then stops gracefully (listeners closed,
in-flight requests finished within GUNICORN_GRACEFUL_TIMEOUT). A second SIGTERM stops at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from typing import Any

from gunicorn import glogging

from stratus.platform.client_address import TrustedProxiesError, parse_trusted_proxies, resolve_client_address


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn: configuration error: {name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"gunicorn: configuration error: {name}: must be at least {minimum}, got {value}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"gunicorn: configuration error: {name}: expected a number, got {raw!r}") from None
    if value < 0:
        raise SystemExit(f"gunicorn: configuration error: {name}: must not be negative, got {raw}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"gunicorn: configuration error: {name}: expected true or false, got {raw!r}")


def available_cpus() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup v2 CPU quota (containers)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_workers() -> int:
    return max(3, 2 * available_cpus() + 1)


# --- Server socket and workers ------------------------------------------------------------------

bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_env_int('PORT', 8000, 1)}"]
workers = _env_int("WEB_CONCURRENCY", default_workers(), 1)
threads = _env_int("GUNICORN_THREADS", 1, 1)  # more than 1 selects the gthread worker
timeout = _env_int("GUNICORN_TIMEOUT", 60, 1)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, 1)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5, 0)
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000, 0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", max(1, max_requests // 10), 0)
backlog = _env_int("GUNICORN_BACKLOG", 2048, 1)
# Forwarding headers (X-Forwarded-Proto here, X-Forwarded-For in the app) are believed only from
# TRUSTED_PROXIES, the one setting every process reads (stratus.platform.client_address).
try:
    TRUSTED_PROXIES = parse_trusted_proxies(os.environ.get("TRUSTED_PROXIES", "").split(","))
except TrustedProxiesError as error:
    raise SystemExit(f"gunicorn: configuration error: TRUSTED_PROXIES: {error}") from None
forwarded_allow_ips = ",".join(str(network) for network in TRUSTED_PROXIES)
# Nginx in front buffers whole requests and times out slow clients; these bound what reaches a
# worker directly (gunicorn's defaults, stated here so they are visible and configurable).
limit_request_line = _env_int("GUNICORN_LIMIT_REQUEST_LINE", 8190, 0)
limit_request_fields = _env_int("GUNICORN_LIMIT_REQUEST_FIELDS", 100, 1)
limit_request_field_size = _env_int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190, 0)
# The heartbeat file of each worker: on tmpfs when there is one (container layers are slow).
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # noqa: S108
preload_app = False
control_socket_disable = True  # no control socket file under $HOME: nothing written outside tmp

DRAIN_SECONDS = _env_float("GUNICORN_DRAIN_SECONDS", 5.0)
# Sent by the master to each worker when draining begins. Workers ignore SIGWINCH by default,
# so a worker that has not installed the handler yet is not disturbed by it.
DRAIN_SIGNAL = signal.SIGWINCH

# --- Logging: errors to stderr, one JSON object per request to stdout ---------------------------

loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
accesslog = "-" if _env_bool("GUNICORN_ACCESS_LOG", True) else None


class JsonAccessLogger(glogging.Logger):
    """Access log lines as JSON (safe for any header value), with the request id of the request."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        headers = {name.lower(): value for name, value in getattr(resp, "headers", [])}
        status = getattr(resp, "status_code", None) or str(getattr(resp, "status", "")).split(" ")[0]
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "remote_addr": resolve_client_address(
                environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), TRUSTED_PROXIES
            ),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or "",
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": headers.get("x-request-id") or environ.get("HTTP_X_REQUEST_ID") or "-",
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(record, separators=(",", ":")))
        except Exception:  # an access log line must never break a response
            self.exception("could not write the access log line")


logger_class = JsonAccessLogger

# --- Graceful shutdown that drains first --------------------------------------------------------

# Module state shared by the hooks. Workers are forked from the master, so a worker started
# while the master is draining inherits `draining = True` and drains from its first request.
_state = {"draining": False}


def _signal_workers(server: Any) -> None:
    for pid in list(server.WORKERS):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, DRAIN_SIGNAL)


def when_ready(server: Any) -> None:
    """In the master: serve the metrics of all workers (METRICS_PORT), and make SIGTERM begin
    draining; the real graceful stop follows after the drain period."""
    from stratus.platform import metrics

    metrics.serve("web")
    if DRAIN_SECONDS <= 0:
        return

    def stop_now(signum: int, frame: Any) -> None:
        server.signal(signal.SIGTERM, frame)  # gunicorn's own graceful stop

    def begin_drain(signum: int, frame: Any) -> None:
        if _state["draining"]:
            stop_now(signum, frame)  # asked twice: do not wait any longer
            return
        _state["draining"] = True
        server.log.info(
            "SIGTERM received: draining for %.1fs (readiness answers 503), then stopping", DRAIN_SECONDS
        )
        _signal_workers(server)
        signal.signal(signal.SIGALRM, stop_now)
        signal.setitimer(signal.ITIMER_REAL, DRAIN_SECONDS)

    signal.signal(signal.SIGTERM, begin_drain)


def child_exit(server: Any, worker: Any) -> None:
    """In the master: a worker's live gauges (connections in use...) leave the sum when it exits."""
    from stratus.platform import metrics

    metrics.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """In each worker: the drain signal switches readiness to 503 for this process."""
    from stratus.platform.health import draining

    def on_drain(signum: int, frame: Any) -> None:
        draining.begin()

    signal.signal(DRAIN_SIGNAL, on_drain)
    signal.siginterrupt(DRAIN_SIGNAL, False)
    if _state["draining"]:
        draining.begin()
