from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from testsupport.processes import PROJECT_DIR, child_env, manage, scratch_database
from testsupport.servers import S3Endpoint

DEPLOY = PROJECT_DIR / "deploy"

SECRET_KEY = "deploy-tests-" + "k" * 60


def dockerfile_collectstatic() -> tuple[dict[str, str], list[str]]:
    """The environment and arguments of the Dockerfile's collectstatic step, as written there."""
    line = next(line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if "collectstatic" in line)
    words = shlex.split(line.split("RUN", 1)[1].split("&&")[0].strip().rstrip("\\"))
    env = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    return env, [word for word in words if not re.match(r"^[A-Z_]+=", word)]


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static files collected by the image build's own step (only the target folder differs)."""
    root = tmp_path_factory.mktemp("static")
    env, argv = dockerfile_collectstatic()
    assert argv[1:] == ["manage.py", "collectstatic", "--noinput"], argv
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=PROJECT_DIR,
        env=child_env({**env, "STATIC_ROOT": str(root), "DATA_DIR": str(root.parent / "static-data")}),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def production_env(
    s3_endpoint: S3Endpoint, collected_static: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Production-mode environment on a migrated scratch database, the suite's Redis and a bucket."""
    with scratch_database() as database_url:
        env = {
            "STRATUS_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "HTTPS": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": settings.REDIS_URL or "redis://127.0.0.1:6379/9",
            "STATIC_ROOT": str(collected_static),
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "LOG_LEVEL": "warning",
            **s3_endpoint.env(s3_endpoint.create_bucket()),
        }
        migrated = manage("migrate", "--noinput", env=env, timeout=900)
        assert migrated.returncode == 0, migrated.stderr
        yield env
