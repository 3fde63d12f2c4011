"""Probes that address a replica by IP are answered; host validation still guards everything else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

POD_IP = "10.42.7.19:8000"


@pytest.fixture
def strict_hosts() -> Iterator[None]:
    with override_settings(ALLOWED_HOSTS=["crm.example.com"]):
        yield


@pytest.mark.usefixtures("strict_hosts")
@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_probe_paths_answer_whatever_the_host(client: Client, path: str) -> None:
    for host in (POD_IP, "evil.example.net", "crm.example.com"):
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 200, (host, response.content)
        assert response.json()["status"] in {"ok", "degraded"}
        assert host.encode() not in response.content
        assert response["Cache-Control"].startswith("max-age=0")
    assert client.head(path, HTTP_HOST=POD_IP).status_code == 200
    assert client.post(path, HTTP_HOST=POD_IP).status_code == 405


@pytest.mark.usefixtures("strict_hosts")
@pytest.mark.parametrize(
    "path", ["/health/", "/api/v1/health/", "/health/live/", "/health/ready/x", "/api/v1/me", "/"]
)
def test_every_other_path_still_refuses_an_unknown_host(client: Client, path: str) -> None:
    assert client.get(path, HTTP_HOST=POD_IP).status_code == 400
    assert client.get(path, HTTP_HOST="evil.example.net").status_code == 400
