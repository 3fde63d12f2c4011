"""pytest fixtures every suite can use (registered by the root conftest).

``api_client(role=..., org=...)`` returns a DRF test client authenticated with a fresh API token
of that role in that organization (a member with that role is created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from stratus.accounts.models import Organization, Role
from testsupport.factories import make_organization, make_token, token_client
from testsupport.servers import S3Endpoint, s3_server


@pytest.fixture
def organization(db: Any) -> Organization:
    return make_organization("Acme")


@pytest.fixture
def other_organization(db: Any) -> Organization:
    return make_organization("Rival")


@pytest.fixture
def api_client(organization: Organization) -> Callable[..., APIClient]:
    def build(role: str = Role.OWNER, org: Organization | None = None) -> APIClient:
        return token_client(make_token(org or organization, role))

    return build


# --- Object storage: a real S3-compatible endpoint (moto server) per test session ------------


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB folder of this test process: chDB (the ClickHouse engine in process) opens a
    single folder per process, so every suite's analytics store lives there (each in its own
    ClickHouse database)."""
    return tmp_path_factory.mktemp("chdb", numbered=False)


@pytest.fixture
def dead_analytics_store(settings: Any) -> str:
    """Reports from ClickHouse (``ANALYTICS_FALLBACK=error``) at a port where nothing listens:
    what the pages and the API do when the analytics store is down. Returns the URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"clickhouse://reader:secret@127.0.0.1:{port}/stratus"
    settings.REPORTS_ENGINE = "clickhouse"
    settings.ANALYTICS_URL = url
    settings.ANALYTICS_CONNECT_TIMEOUT = 1
    settings.ANALYTICS_FALLBACK = "error"
    return url


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
