"""Run Stratus as real server processes against the test database (for cross-process API tests)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.conf import settings

from stratus.platform.testing import PROJECT_DIR, child_env, free_port, server_database_url, stop_process


def live_database_url() -> str:
    """The URL of the database pytest-django created (data committed by transactional tests is visible)."""
    return f"{server_database_url()}/{settings.DATABASES['default']['NAME']}"


def _wait_until_live(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):  # noqa: S310 - http URL built here
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer")


@contextmanager
def gunicorn_server(env: Mapping[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    """A gunicorn process serving Stratus on a free port; yields its base URL.

    Its log goes to a temporary file (a pipe nobody reads would fill up and block the server).
    """
    port = free_port()
    overrides = {
        "DATABASE_URL": live_database_url(),
        "DEBUG": "false",
        "LOG_LEVEL": "warning",
        **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
        **(env or {}),
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "stratus.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
            ],
            cwd=PROJECT_DIR,
            env=child_env(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_live(url, process, time.monotonic() + 60)
            yield url
        finally:
            stop_process(process, 20)
