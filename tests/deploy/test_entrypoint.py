"""deploy/entrypoint.sh run as the image runs it: wait for services, migrate, refuse to serve early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.deploy.conftest import SECRET_KEY
from testsupport.processes import PROJECT_DIR, child_env, free_port, scratch_database
from testsupport.servers import S3Endpoint

pytestmark = pytest.mark.cluster

ENTRYPOINT = PROJECT_DIR / "deploy" / "entrypoint.sh"


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full = child_env({"PYTHON": sys.executable, **env})
    full["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        cwd=PROJECT_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def production(s3_endpoint: S3Endpoint) -> dict[str, str]:
    return {
        "STRATUS_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "localhost",
        "HTTPS": "false",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9",
        **s3_endpoint.env(s3_endpoint.create_bucket()),
    }


def test_migrate_waits_applies_migrations_and_runs_the_deploy_checks(production: dict[str, str]) -> None:
    with scratch_database() as url:
        result = run(["migrate"], {**production, "DATABASE_URL": url})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "database ready" in result.stderr
        assert "System check identified" in result.stdout + result.stderr
        with psycopg.connect(url) as conn:
            applied = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
        assert applied
        assert applied[0] > 10
        again = run(["migrate"], {**production, "DATABASE_URL": url})
        assert again.returncode == 0, again.stderr
        assert "No migrations to apply" in again.stdout


def test_app_processes_do_not_start_before_their_migrations(production: dict[str, str]) -> None:
    with scratch_database() as url:
        env = {**production, "DATABASE_URL": url, "STARTUP_WAIT_TIMEOUT": "2", "PORT": str(free_port())}
        result = run(["web"], env, timeout=120)
    assert result.returncode != 0
    assert "migrations" in result.stderr
    assert "gave up" in result.stderr
    assert "Listening at" not in result.stderr, "gunicorn was never started"


def test_migrate_gives_up_naming_an_unreachable_database(production: dict[str, str]) -> None:
    env = {
        **production,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/x",
        "STARTUP_WAIT_TIMEOUT": "2",
    }
    result = run(["migrate"], env, timeout=120)
    assert result.returncode != 0
    assert "gave up" in result.stderr
    assert "database" in result.stderr


def test_manage_and_other_commands_pass_through(tmp_path: Path) -> None:
    assert run(["manage", "check"], {"DATA_DIR": str(tmp_path)}).returncode == 0
    echoed = run(["echo", "hello from the image"], {})
    assert echoed.returncode == 0
    assert echoed.stdout.strip() == "hello from the image"
