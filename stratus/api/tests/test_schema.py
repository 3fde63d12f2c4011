"""The OpenAPI schema builds without warnings and its viewers load without any CDN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    call_command(
        "spectacular", "--fail-on-warn", "--validate", "--format", "openapi-json", "--file", str(target)
    )
    schema = json.loads(target.read_text())
    operation = schema["paths"]["/api/v1/tokens"]["post"]
    assert operation["responses"]["422"]["content"]["application/problem+json"]
    assert schema["components"]["schemas"]["TokenCreateRequest"]["additionalProperties"] is False
    assert {"bearerAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_viewers_use_local_assets(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_schema_is_served(client) -> None:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Stratus API"
