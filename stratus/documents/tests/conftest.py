from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from requests.structures import CaseInsensitiveDict

from stratus.accounts.models import Organization, User
from stratus.crm.models import Company, Contact, Deal, Pipeline, Stage
from stratus.documents.storage import DocumentStore, document_store
from testsupport.factories import make_organization, make_user
from testsupport.servers import S3Endpoint

# Django's test client serves this host in-process (the embedded default's local URLs).
TEST_SERVER = "http://testserver"


@dataclass
class Backend:
    """The storage a test runs on, with a second, credential-less HTTP client for its URLs."""

    kind: str
    endpoint: S3Endpoint | None
    bucket: str
    root: Path | None

    @property
    def store(self) -> DocumentStore:
        return document_store()

    def keys(self) -> list[str]:
        if self.endpoint is not None:
            return sorted(self.endpoint.keys(self.bucket))
        assert self.root is not None
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    def get(self, url: str) -> tuple[int, bytes, CaseInsensitiveDict[str]]:
        url = url.removeprefix(TEST_SERVER)
        if url.startswith("http"):
            response = requests.get(url, timeout=10)
            return response.status_code, response.content, response.headers
        served = Client().get(url)
        body = b"".join(served.streaming_content) if served.streaming else served.content  # type: ignore[attr-defined]
        return served.status_code, body, CaseInsensitiveDict(dict(served.headers.items()))

    def post_form(self, url: str, fields: dict[str, str], content: bytes, content_type: str) -> int:
        url = url.removeprefix(TEST_SERVER)
        if url.startswith("http"):
            response = requests.post(
                url, data=fields, files={"file": ("upload", content, content_type)}, timeout=10
            )
            return response.status_code
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("upload", content, content_type=content_type)
        return Client().post(url, {**fields, "file": upload}).status_code


@pytest.fixture(params=["s3", "local"])
def backend(request: Any, settings: Any, tmp_path: Path) -> Backend:
    """Each test runs on an S3 bucket (moto server) and on the embedded default's media folder."""
    if request.param == "s3":
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket = endpoint.create_bucket()
        settings.STORAGES = {**settings.STORAGES, "default": endpoint.storage_backend(bucket)}
        return Backend("s3", endpoint, bucket, None)
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return Backend("local", None, "", root)


@pytest.fixture
def s3_backend(s3_endpoint: S3Endpoint, settings: Any) -> Backend:
    bucket = s3_endpoint.create_bucket()
    settings.STORAGES = {**settings.STORAGES, "default": s3_endpoint.storage_backend(bucket)}
    return Backend("s3", s3_endpoint, bucket, None)


@pytest.fixture
def user(db: None) -> User:
    return make_user()


@pytest.fixture
def org(user: User) -> Organization:
    return make_organization(owner=user)


@pytest.fixture
def contact(org: Organization) -> Contact:
    return Contact.objects.create(organization=org, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def company(org: Organization) -> Company:
    return Company.objects.create(organization=org, name="Analytical Engines Ltd")


@pytest.fixture
def deal(org: Organization) -> Deal:
    pipeline = Pipeline.objects.create(organization=org, name="Sales", is_default=True)
    stage = Stage.objects.create(organization=org, pipeline=pipeline, name="Lead", position=0)
    return Deal.objects.create(organization=org, title="Engine order", pipeline=pipeline, stage=stage)
