"""Object storage through django-storages against a real S3-compatible endpoint (moto server)."""

from __future__ import annotations

import json

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from testsupport.processes import free_port, run_python
from testsupport.servers import S3Endpoint, s3_server

pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]

READY_SCRIPT = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/health/ready")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def test_storage_writes_and_presigns_through_the_endpoint(s3_storage: S3Endpoint, s3_bucket: str) -> None:
    name = default_storage.save("probe/hello.txt", ContentFile(b"hello from stratus"))
    assert s3_storage.keys(s3_bucket) == [name]
    url = default_storage.url(name)
    assert url.startswith(s3_storage.url)
    assert "X-Amz-Signature=" in url
    # A second client with no credentials fetches the object through the presigned URL only.
    assert requests.get(url, timeout=5).content == b"hello from stratus"
    unsigned = url.split("?", 1)[0]
    assert requests.get(unsigned, timeout=5).status_code == 403


def test_ready_reports_storage_ok_when_the_bucket_answers(s3_storage: S3Endpoint, client: Client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["storage"]["status"] == "ok"


def test_ready_degrades_when_the_bucket_is_missing(s3_storage: S3Endpoint, settings, client: Client) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage.storage_backend("stratus-no-such-bucket"),
    }
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["storage"]["status"] == "degraded"
    assert "404" in body["checks"]["storage"]["detail"]


def _database_url(live) -> str:
    config = live.DATABASES["default"]
    return f"postgres://{config['USER'] or 'postgres'}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


def _ready_in_child(env: dict[str, str]) -> dict:
    from django.conf import settings as live

    result = run_python(
        READY_SCRIPT, env={"DATABASE_URL": _database_url(live), "REDIS_URL": str(live.REDIS_URL), **env}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ready_in_a_process_configured_from_the_environment(s3_endpoint: S3Endpoint, s3_bucket: str) -> None:
    outcome = _ready_in_child(s3_endpoint.env(s3_bucket))
    assert outcome["status"] == 200
    assert outcome["body"]["checks"]["storage"]["status"] == "ok"


def test_ready_degrades_without_failing_when_the_endpoint_is_down() -> None:
    # An endpoint that was running and stopped: nothing listens on its port any more.
    with s3_server() as endpoint:
        bucket = endpoint.create_bucket()
    outcome = _ready_in_child(endpoint.env(bucket))
    assert outcome["status"] == 200
    assert outcome["body"]["status"] == "degraded"
    storage = outcome["body"]["checks"]["storage"]
    assert storage["status"] == "degraded"
    assert storage["critical"] is False
    assert "connect" in storage["detail"].lower()


def test_unreachable_endpoint_on_a_closed_port_is_reported(s3_endpoint: S3Endpoint) -> None:
    env = {**s3_endpoint.env("anything"), "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    outcome = _ready_in_child(env)
    assert outcome["body"]["checks"]["storage"]["status"] == "degraded"
