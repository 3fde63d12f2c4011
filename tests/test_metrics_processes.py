"""Prometheus metrics across processes: a web replica's metrics port sums all its workers."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import stratus
from testsupport.processes import PROJECT_DIR, child_env, free_port, server_database_url, stop_process

pytestmark = pytest.mark.subprocess


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _requests_in(exposition: str, route: str) -> float:
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith("stratus_http_requests_total{") and f'route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.django_db(transaction=True)
def test_a_web_replica_serves_the_sum_of_all_its_workers(tmp_path: Path) -> None:
    """Three Gunicorn workers behind one metrics port: a scrape counts every worker's requests."""
    port, metrics_port = free_port(), free_port()
    env = child_env(
        {
            "DATABASE_URL": server_database_url(),
            "DEBUG": "false",
            "LOG_LEVEL": "warning",
            "PORT": str(port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "3",
            "METRICS_PORT": str(metrics_port),
            "METRICS_ADDRESS": "127.0.0.1",
            "METRICS_DIR": str(tmp_path / "metrics"),
            "STARTUP_WAIT": "false",
            "GUNICORN_ACCESS_LOG": "false",
            "PYTHON": sys.executable,
        }
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            ["sh", str(PROJECT_DIR / "deploy" / "entrypoint.sh"), "web"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    _scrape(f"http://127.0.0.1:{port}/health/live")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        pytest.fail(f"the web process did not start:\n{log.read().decode(errors='replace')}")
                    time.sleep(0.2)
            sent = 30
            for _ in range(sent):
                with pytest.raises(urllib.error.HTTPError):
                    _scrape(f"http://127.0.0.1:{port}/api/v1/contacts")  # 401: no credentials
            exposition = _scrape(f"http://127.0.0.1:{metrics_port}/metrics")
            assert _requests_in(exposition, "api/v1/contacts") == sent
            # Each worker that answered wrote its own file; the scrape above summed them.
            (folder,) = (tmp_path / "metrics").iterdir()
            assert len({re.sub(r"\D", "", file.name) for file in folder.glob("counter_*.db")}) >= 2
            assert (
                'stratus_build_info{commit="unknown",version="' + stratus.__version__ + '"} 1.0' in exposition
            )
            # The metrics port is the only place they are served: the site itself has no /metrics.
            with pytest.raises(urllib.error.HTTPError) as refused:
                _scrape(f"http://127.0.0.1:{port}/api/v1/metrics")
            assert refused.value.code == 404
        finally:
            stop_process(process, 30)
