"""Smoke run of the embedded default: no PostgreSQL, no Redis, a fresh data folder."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from testsupport.processes import PROJECT_DIR, child_env, free_port, manage

pytestmark = pytest.mark.cluster


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_embedded_default_migrates_loads_demo_and_serves(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    demo = manage("load_demo", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "Demo login: demo@stratus.example" in demo.stdout
    assert (tmp_path / "data" / "stratus.sqlite3").exists()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=PROJECT_DIR,
        env=child_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/health/ready")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, body
        assert '"storage"' in body
        assert '"redis"' not in body

        status, body = get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200
        assert "Stratus administration" in body

        # The browser app: its sign-in page at /, with the built script and stylesheet served.
        status, body = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert "<title>Sign in · Stratus</title>" in body
        for asset in ("/static/web/build/app.js", "/static/web/build/styles.css"):
            assert asset in body
            status, content = get(f"http://127.0.0.1:{port}{asset}")
            assert status == 200, asset
            assert len(content) > 1000, asset
    finally:
        server.terminate()
        server.wait(timeout=10)
