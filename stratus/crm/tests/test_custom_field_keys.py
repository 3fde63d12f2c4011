"""Every custom field key that can be created can be filtered on with every operator.

``__`` separates a key from a filter operator (``custom_fields.<key>__gt``), so keys that
contain it (``x__gt``, and so every operator suffix) are refused when the field is created.
The operators come from the filter parser itself (``FILTER_OPERATORS``), not from this file.
"""

from __future__ import annotations

import pytest

from stratus.accounts.models import Role
from stratus.crm import custom_fields as cf
from stratus.crm import services
from stratus.crm.models import CustomField

pytestmark = pytest.mark.django_db

LOOKUP_NAMES = ["contains", "contained_by", "has_key", "has_keys", "icontains", "startswith", "regex", "key"]
CREATABLE_KEYS = sorted(
    {
        *cf.FILTER_OPERATORS,  # a key named like an operator: custom_fields.gt, custom_fields.gt__gt
        *(f"x_{op}" for op in cf.FILTER_OPERATORS),
        *(f"{op}_1" for op in cf.FILTER_OPERATORS),
        *LOOKUP_NAMES,
        "a_b_c",
    }
)
# What each operator finds among three contacts: low (value 1), high (value 5), none (no value).
EXPECTED = {
    "exact": ("1", {"low"}),
    "gt": ("2", {"high"}),
    "gte": ("5", {"high"}),
    "lt": ("2", {"low"}),
    "lte": ("1", {"low"}),
    "in": ("1,5", {"low", "high"}),
    "isnull": ("true", {"none"}),
}


def _create_field(client, key: str):
    return client.post(
        "/api/v1/custom-fields",
        {"entity": "contact", "key": key, "label": key, "field_type": "number"},
        format="json",
    )


@pytest.mark.parametrize("operator", cf.FILTER_OPERATORS)
def test_a_key_ending_in_an_operator_suffix_is_refused(api_client, organization, operator) -> None:
    client = api_client(Role.ADMIN)
    for key in (f"x{cf.OPERATOR_SEPARATOR}{operator}", f"x_{cf.OPERATOR_SEPARATOR}{operator}"):
        response = _create_field(client, key)
        assert response.status_code == 400, response.content
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == ["key"]
        assert cf.OPERATOR_SEPARATOR in errors[0]["message"]
    assert not CustomField.objects.filter(organization=organization).exists()


@pytest.mark.parametrize("key", ["a__b", "x_", "gt_", "_x", "X", "1x", "a-b", "a" * 51])
def test_keys_that_could_not_be_told_from_an_operator_or_are_malformed_are_refused(
    api_client, organization, key
) -> None:
    # "x_" + "__gt" would read as "x" + "___gt".
    response = _create_field(api_client(Role.ADMIN), key)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["key"]
    assert not CustomField.objects.filter(organization=organization).exists()


def test_every_operator_is_covered() -> None:
    assert set(EXPECTED) == set(cf.FILTER_OPERATORS)


def test_every_key_that_can_be_created_can_be_filtered_on_with_every_operator(
    api_client, organization
) -> None:
    client = api_client(Role.ADMIN)
    for key in CREATABLE_KEYS:
        assert cf.key_problem(key) is None, key
        assert _create_field(client, key).status_code == 201, key
    owner = organization.memberships.get(role=Role.OWNER).user
    ids = {
        name: services.contact_create(
            org=organization,
            actor=owner,
            first_name=name,
            custom_fields=dict.fromkeys(CREATABLE_KEYS, value) if value is not None else {},
        ).pk
        for name, value in (("low", 1), ("high", 5), ("none", None))
    }
    names = {pk: name for name, pk in ids.items()}
    for key in CREATABLE_KEYS:
        for operator in cf.FILTER_OPERATORS:
            value, expected = EXPECTED[operator]
            suffix = "" if operator == "exact" else f"{cf.OPERATOR_SEPARATOR}{operator}"
            response = client.get("/api/v1/contacts", {f"custom_fields.{key}{suffix}": value})
            assert response.status_code == 200, (key, operator, response.content)
            found = {names[row["id"]] for row in response.json()["results"]}
            assert found == expected, (key, operator)
            if operator == "exact":  # the explicit operator means the same
                explicit = client.get("/api/v1/contacts", {f"custom_fields.{key}__exact": value})
                assert {names[row["id"]] for row in explicit.json()["results"]} == expected, key


def test_an_unknown_operator_is_named(api_client, organization) -> None:
    client = api_client(Role.ADMIN)
    assert _create_field(client, "size").status_code == 201
    response = client.get("/api/v1/contacts", {"custom_fields.size__near": "3"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["custom_fields.size__near"]
    assert "Unknown operator" in errors[0]["message"]
