from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from stratus.platform.testing import S3Endpoint, manage, scratch_database

SECRET_KEY = "deploy-tests-" + "k" * 60


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static files collected as the image build does (hashed names, compressed copies)."""
    root = tmp_path_factory.mktemp("static")
    result = manage(
        "collectstatic",
        "--noinput",
        env={"DEBUG": "false", "STATIC_ROOT": str(root), "DATA_DIR": str(root.parent / "static-data")},
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
        migrated = manage("migrate", "--noinput", env=env, timeout=300)
        assert migrated.returncode == 0, migrated.stderr
        yield env
