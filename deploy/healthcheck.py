"""Container health check (stdlib only): exits 0 when this container's process is healthy.

    python deploy/healthcheck.py          web/ws: GET /health/live on $PORT answers 200
    python deploy/healthcheck.py ready    the same for /health/ready (dependencies included)
    python deploy/healthcheck.py broker   beat: the Celery broker (CELERY_BROKER_URL) answers PING

The two probe paths are answered whatever the Host header, so no host needs configuring here.
"""

from __future__ import annotations

import http.client
import os
import sys


def broker_answers() -> int:
    import redis

    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL", "")
    if not url:
        print("healthcheck: CELERY_BROKER_URL is not set", file=sys.stderr)
        return 1
    try:
        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        print(f"healthcheck: broker: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["broker"]:
        return broker_answers()
    path = "/health/ready" if argv[1:2] == ["ready"] else "/health/live"
    port = int(os.environ.get("PORT", "8000"))
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=float(os.environ.get("PROBE_TIMEOUT", "5"))
    )
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError as error:
        print(f"healthcheck: {path}: {error}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthcheck: {path} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
