"""Every URL pattern that takes a JSON body refuses one nested too deep, before parsing it.

The URL resolver is walked (not a hand-written list): every view whose parsers accept JSON
gets, for each write method it has, a body nested one level deeper than JSON_MAX_DEPTH and
one nested a hundred thousand levels (Python's parser fails near a thousand with
RecursionError, a 500). Each answer is a 400 problem naming the depth, and no table gains or
loses a row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from stratus.accounts.models import Role
from stratus.api.middleware import JSON_TOO_DEEP_TYPE
from testsupport.factories import make_token, token_client

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_SAMPLE = {"int": "1", "uuid": str(uuid.UUID(int=1)), "slug": "x", "str": "x", "path": "x", None: "x"}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _accepts_json(view_class: type[APIView]) -> bool:
    return any(
        parser.media_type == "application/json" or parser.media_type.endswith("+json")
        for parser in view_class().get_parsers()
    )


def json_write_endpoints() -> list[tuple[str, str]]:
    found = []
    for route, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None)
        if view_class is None or not issubclass(view_class, APIView) or not _accepts_json(view_class):
            continue
        path = "/" + _PARAM.sub(lambda m: _SAMPLE.get(m.group(1), "x"), route)
        for method in WRITE_METHODS:
            if hasattr(view_class, method) and method in view_class.http_method_names:
                found.append((method, path))
    return found


ENDPOINTS = json_write_endpoints()


def _nested(levels: int) -> str:
    """An object body whose ``custom_fields`` (and every other value) nests ``levels`` deep in all."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return f'{{"custom_fields": {inner}, "name": "x"}}'


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def test_the_walk_finds_the_json_endpoints() -> None:
    assert ("post", "/api/v1/contacts") in ENDPOINTS
    assert ("patch", "/api/v1/contacts/1") in ENDPOINTS
    assert ("post", "/api/v1/tokens") in ENDPOINTS
    assert len(ENDPOINTS) > 30


@pytest.fixture
def owner(organization) -> APIClient:
    return token_client(make_token(organization, Role.OWNER))


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_body_nested_too_deep_is_a_400_that_writes_nothing(owner, method: str, path: str) -> None:
    limit = settings.JSON_MAX_DEPTH
    before = _row_counts()
    for levels in (limit + 1, 100_000):
        response = getattr(owner, method)(path, _nested(levels), content_type="application/json")
        assert response.status_code == 400, (levels, response.content[:300])
        problem = response.json()
        assert problem["type"] == JSON_TOO_DEEP_TYPE
        assert f"{limit} levels" in problem["detail"]
        assert problem["errors"][0]["code"] == "too_deep"
    assert _row_counts() == before


def test_a_body_at_the_limit_reaches_the_view(owner, settings) -> None:
    # custom_fields at the limit is refused by the contact's own validation, not by depth.
    response = owner.post(
        "/api/v1/contacts", _nested(settings.JSON_MAX_DEPTH), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["type"] != JSON_TOO_DEEP_TYPE
    assert "custom_fields" in {e["field"] for e in response.json()["errors"]}


def test_the_limit_is_a_setting(owner, settings) -> None:
    settings.JSON_MAX_DEPTH = 8
    body = '{"first_name": "Ada", "custom_fields": {"a": [[[[[[[1]]]]]]]}}'  # 9 levels
    response = owner.post("/api/v1/contacts", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == JSON_TOO_DEEP_TYPE
    assert "8 levels" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count(owner) -> None:
    body = '{"first_name": "' + "[" * 5000 + '"}'
    response = owner.post("/api/v1/contacts", body, content_type="application/json")
    assert response.status_code == 400  # the name is too long, which the serializer says
    assert response.json()["type"] != JSON_TOO_DEEP_TYPE


def test_other_json_media_types_and_charsets_are_measured_too(owner) -> None:
    deep = _nested(settings.JSON_MAX_DEPTH + 1)
    for content_type, body in (
        ("application/merge-patch+json", deep.encode()),
        ("application/json; charset=utf-16", deep.encode("utf-16")),
    ):
        response = owner.post("/api/v1/contacts", body, content_type=content_type)
        assert response.status_code == 400, content_type
        assert response.json()["type"] == JSON_TOO_DEEP_TYPE, content_type


def test_json_inside_a_form_field_is_measured_too(owner) -> None:
    response = owner.post(
        "/api/v1/imports/analyse",
        {
            "file": SimpleUploadedFile("people.csv", b"Name,Email\nAda,ada@example.com\n"),
            "kind": "contacts",
            "mapping": "[" * 5000 + "]" * 5000,
        },
        format="multipart",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["mapping"]
    assert f"{settings.JSON_MAX_DEPTH} levels" in errors[0]["message"]
