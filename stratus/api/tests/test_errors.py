"""Every error of the API has the problem-details shape, whoever produces it."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from stratus.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors", "request_id"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_unauthenticated_is_401_with_bearer_challenge(client: Client) -> None:
    response = client.get("/api/v1/tokens")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_bad_token_is_401(client: Client) -> None:
    assert_problem(client.get("/api/v1/tokens", HTTP_AUTHORIZATION="Bearer st_nope"), 401)
    assert_problem(client.get("/api/v1/tokens", HTTP_AUTHORIZATION="Bearer a b"), 401)


def test_unknown_api_url_is_404_problem_even_in_debug(client: Client, settings) -> None:
    settings.DEBUG = True
    assert_problem(client.get("/api/v1/no-such-thing"), 404)


def test_method_not_allowed_is_405(api_client) -> None:
    assert_problem(api_client().put("/api/v1/tokens", {}, format="json"), 405)


def test_malformed_json_is_400_and_creates_nothing(api_client) -> None:
    client = api_client()
    before = ApiToken.objects.count()
    response = client.post("/api/v1/tokens", data='{"name": "x",', content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON parse error" in body["detail"]
    assert ApiToken.objects.count() == before


def test_unknown_and_read_only_fields_are_refused_by_name(api_client) -> None:
    client = api_client()
    before = ApiToken.objects.count()
    response = client.post("/api/v1/tokens", {"name": "x", "role": "member", "colour": "red"}, format="json")
    body = assert_problem(response, 400)
    assert body["errors"] == [{"field": "colour", "code": "invalid", "message": "Unknown field."}]
    assert ApiToken.objects.count() == before

    response = client.patch("/api/v1/organization", {"name": "New", "slug": "new"}, format="json")
    body = assert_problem(response, 400)
    assert body["errors"] == [{"field": "slug", "code": "invalid", "message": "This field is read-only."}]
    assert client.get("/api/v1/organization").json()["name"] != "New"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 12, "role": "member"}, "name"),
        ({"name": "x", "role": 1}, "role"),
        ({"name": "x", "role": "member", "expires_at": 5}, "expires_at"),
        ({"name": "x", "role": "member", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "role": "wizard"}, "role"),
    ],
)
def test_wrong_types_are_400_naming_the_field(api_client, payload: dict, field: str) -> None:
    body = assert_problem(api_client().post("/api/v1/tokens", payload, format="json"), 400)
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["type"] == "urn:stratus:problem:validation-error"


def test_non_object_body_is_400(api_client) -> None:
    body = assert_problem(api_client().post("/api/v1/tokens", [1, 2], format="json"), 400)
    assert body["errors"][0]["field"] is None


def test_unsupported_media_type_is_415(api_client) -> None:
    response = api_client().post(
        "/api/v1/tokens", data="name=x", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)


def test_oversized_body_is_413_before_parsing(api_client, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = api_client()
    before = ApiToken.objects.count()
    payload = json.dumps({"name": "x" * 5000, "role": "member"})
    response = client.post("/api/v1/tokens", data=payload, content_type="application/json")
    body = assert_problem(response, 413)
    assert "limit is 2048 bytes" in body["detail"]
    assert ApiToken.objects.count() == before


def test_not_acceptable_is_406(api_client) -> None:
    assert_problem(api_client().get("/api/v1/tokens", HTTP_ACCEPT="text/csv"), 406)


@override_settings(ROOT_URLCONF="stratus.api.tests.urls", DEBUG=False)
def test_crash_in_a_drf_view_is_a_500_problem() -> None:
    client = Client(raise_request_exception=False)
    body = assert_problem(client.get("/api/v1/test-crash"), 500)
    assert "boom" not in json.dumps(body)


@override_settings(ROOT_URLCONF="stratus.api.tests.urls", DEBUG=False)
def test_crash_in_a_plain_view_is_a_500_problem() -> None:
    client = Client(raise_request_exception=False)
    assert_problem(client.get("/api/v1/test-plain-crash"), 500)


def test_non_api_paths_keep_django_pages(client: Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "problem" not in response["Content-Type"]
