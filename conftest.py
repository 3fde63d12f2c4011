from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from stratus.platform.testing import S3Endpoint, s3_server


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts and ends with an empty cache (the suite's own Redis database)."""
    cache.clear()
    yield
    cache.clear()


# --- Object storage: a real S3-compatible endpoint (moto server) per test session ------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """moto's S3 server in a subprocess, shared by the session (each xdist worker starts its own)."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: S3Endpoint) -> str:
    """A fresh, empty, private bucket on the session's endpoint."""
    return s3_endpoint.create_bucket()


@pytest.fixture
def s3_storage(s3_endpoint: S3Endpoint, s3_bucket: str, settings: Any) -> S3Endpoint:
    """Point ``default_storage`` at ``s3_bucket`` through django-storages' S3 backend, as in production."""
    settings.STORAGES = {**settings.STORAGES, "default": s3_endpoint.storage_backend(s3_bucket)}
    settings.AWS_STORAGE_BUCKET_NAME = s3_bucket
    return s3_endpoint


# API fixtures: organization, other_organization, api_client(role=..., org=...)
pytest_plugins = ["stratus.api.fixtures"]
