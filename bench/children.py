"""What the benchmarks share: a free port, a child's environment (the caller's, without the
settings the benchmark chooses itself), ``manage.py`` in a child process, waiting for an HTTP
endpoint, the machine's load for the record, and the run's JSON document printed and written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The settings a benchmark gives its children explicitly: never inherited from the shell.
CLEARED = (
    "DJANGO_SETTINGS_MODULE",
    "STRATUS_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "REALTIME_REDIS_URL",
    "CELERY_BROKER_URL",
    "DATA_DIR",
    "QDRANT_URL",
    "CACHE_KEY_PREFIX",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(env), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_http(url: str, deadline: float = 90) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > end:
                raise SystemExit(f"{url} did not answer") from None
            time.sleep(0.2)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def emit(document: Any, out: Path | None) -> None:
    """Print the run's JSON document, and write it to ``out`` (its folder made if need be)."""
    text = json.dumps(document, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
