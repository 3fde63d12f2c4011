"""The server accepts what the schema promises, on every operation the schema lists.

- Every query filter whose schema admits the empty value may be sent empty: it filters nothing.
- An empty string is not an id, and input serializers refuse keys they do not know.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from tests.test_api_isolation import World

pytestmark = pytest.mark.django_db(transaction=True)

PAGINATION = {"cursor", "limit", "ordering"}


def _admits_empty(schema: dict[str, Any]) -> bool:
    return (
        schema.get("type") == "string"
        and "" in schema.get("enum", [""])
        and re.search(schema.get("pattern", ""), "") is not None
        and schema.get("minLength", 0) == 0
    )


def _list_operations() -> list[tuple[str, list[str]]]:
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        filters = [
            p["name"]
            for p in get.get("parameters", [])
            if p["in"] == "query" and p["name"] not in PAGINATION and _admits_empty(p.get("schema", {}))
        ]
        if filters:
            found.append((path, filters))
    return found


# Required query parameters of the operations with filters, sent with the empty filters.
REQUIRED_QUERY = {"/api/v1/search": ["q=renewal", "mode=words"]}


def test_every_filter_the_schema_admits_empty_may_be_sent_empty(settings: Any) -> None:
    settings.API_RATE_LIMIT_TOKEN = settings.API_RATE_LIMIT_ORGANIZATION = 0
    world = World()
    world.build()
    operations = _list_operations()
    assert {"/api/v1/contacts", "/api/v1/deals", "/api/v1/exports/deals.csv"} <= {p for p, _ in operations}
    refused = []
    for path, filters in operations:
        query = "&".join([*REQUIRED_QUERY.get(path, []), *(f"{name}=" for name in filters)])
        response = world.a_owner.get(f"{path}?{query}")
        if response.status_code != 200:
            refused.append(f"{path}?{query}: {response.status_code} {response.content[:300]!r}")
    assert not refused, "\n".join(refused)


def test_an_empty_string_is_not_an_id_and_unknown_keys_are_refused() -> None:
    world = World()
    world.build()
    campaign = world.a_owner.patch(
        f"/api/v1/campaigns/{world.ids['campaign']}", {"segment": ""}, format="json"
    )
    assert campaign.status_code == 400
    assert [e["field"] for e in campaign.json()["errors"]] == ["segment"]
    rename = world.a_owner.patch(
        f"/api/v1/documents/{world.ids['document']}/", {"name": "x.pdf", "colour": "red"}, format="json"
    )
    assert rename.status_code == 400
    assert [e["field"] for e in rename.json()["errors"]] == ["colour"]


def _one_of_both_admitting_empty(node: Any, path: str = "") -> list[str]:
    """``oneOf`` lists where "" matches two alternatives (a valid request the schema would refuse)."""
    found: list[str] = []
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if isinstance(alternatives, list):
            empty = [
                a
                for a in alternatives
                if isinstance(a, dict) and a.get("type") == "string" and _admits_empty(a)
            ]
            if len(empty) > 1:
                found.append(path)
        for key, value in node.items():
            found += _one_of_both_admitting_empty(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _one_of_both_admitting_empty(value, f"{path}/{index}")
    return found


def test_no_one_of_is_matched_twice_by_an_empty_string() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert _one_of_both_admitting_empty(schema) == []
