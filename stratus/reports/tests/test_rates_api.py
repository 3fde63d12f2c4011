"""Exchange rates over the API: viewers read, admins write, each refusal names its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stratus.accounts.models import Role
from stratus.reports.models import ExchangeRate
from testsupport.factories import make_organization, make_token, token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/exchange-rates"
USD = {"currency": "USD", "currency_to": "EUR", "rate": "0.9234", "valid_from": "2026-01-01"}


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.fixture
def org() -> Any:
    return make_organization("Rates")


def test_an_admin_adds_changes_and_deletes_a_rate(org: Any) -> None:
    admin = token_client(make_token(org, Role.ADMIN))
    created = admin.post(URL, USD, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in USD} == {**USD, "rate": "0.9234000000"}
    assert created["Location"] == f"{URL}/{body['id']}"
    changed = admin.patch(f"{URL}/{body['id']}", {"rate": "0.93"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["rate"] == "0.9300000000"
    assert admin.delete(f"{URL}/{body['id']}").status_code == 204
    assert not ExchangeRate.objects.filter(organization=org).exists()


def test_viewers_read_and_members_cannot_write(org: Any) -> None:
    admin = token_client(make_token(org, Role.ADMIN))
    rate_id = admin.post(URL, USD, format="json").json()["id"]
    viewer = token_client(make_token(org, Role.VIEWER))
    member = token_client(make_token(org, Role.MEMBER))
    assert viewer.get(URL).json()["results"][0]["id"] == rate_id
    assert viewer.get(f"{URL}/{rate_id}").status_code == 200
    assert member.post(URL, {**USD, "valid_from": "2026-02-01"}, format="json").status_code == 403
    assert member.patch(f"{URL}/{rate_id}", {"rate": "2"}, format="json").status_code == 403
    assert viewer.delete(f"{URL}/{rate_id}").status_code == 403
    assert ExchangeRate.objects.get(pk=rate_id).rate == Decimal("0.9234")


def test_each_refusal_names_its_field(org: Any) -> None:
    admin = token_client(make_token(org, Role.ADMIN))
    assert _errors(admin.post(URL, {**USD, "currency": "usd"}, format="json")) == {
        "currency": "Must be a three-letter ISO 4217 code in capitals, e.g. EUR."
    }
    assert _errors(admin.post(URL, {**USD, "currency_to": "ABC"}, format="json")) == {
        "currency_to": "ABC is not an ISO 4217 currency code."
    }
    assert _errors(admin.post(URL, {**USD, "rate": "0"}, format="json")) == {
        "rate": "Must be greater than 0."
    }
    assert _errors(admin.post(URL, {**USD, "rate": "-1.5"}, format="json")) == {
        "rate": "Must be greater than 0."
    }
    assert set(_errors(admin.post(URL, {**USD, "rate": "abc"}, format="json"))) == {"rate"}
    assert set(_errors(admin.post(URL, {**USD, "rate": 1.5}, format="json"))) == {"rate"}
    assert _errors(admin.post(URL, {**USD, "rate": "0.12345678901"}, format="json")) == {
        "rate": "At most 10 digits before the decimal point and 10 after it."
    }
    assert set(_errors(admin.post(URL, {**USD, "valid_from": "2026-13-01"}, format="json"))) == {"valid_from"}
    assert _errors(admin.post(URL, {**USD, "currency": "EUR"}, format="json")) == {
        "currency_to": "Must differ from currency: a currency converts to itself at 1."
    }
    assert set(_errors(admin.post(URL, {**USD, "extra": 1}, format="json"))) == {"extra"}
    assert admin.post(URL, USD, format="json").status_code == 201
    assert _errors(admin.post(URL, {**USD, "rate": "0.95"}, format="json")) == {
        "valid_from": "A rate from USD to EUR valid from 2026-01-01 exists already."
    }
    assert ExchangeRate.objects.filter(organization=org).count() == 1


def test_another_organizations_rates_are_not_found(org: Any) -> None:
    rate_id = token_client(make_token(org, Role.ADMIN)).post(URL, USD, format="json").json()["id"]
    other = token_client(make_token(make_organization("Other"), Role.OWNER))
    assert other.get(URL).json()["results"] == []
    for method in ("get", "patch", "delete"):
        assert getattr(other, method)(f"{URL}/{rate_id}").status_code == 404
    assert ExchangeRate.objects.filter(pk=rate_id).exists()


def test_the_list_filters_by_reporting_currency_in_a_constant_number_of_queries(org: Any) -> None:
    admin = token_client(make_token(org, Role.ADMIN))
    admin.post(URL, USD, format="json")

    def count(n: int) -> int:
        for day in range(2, 2 + n):
            admin.post(URL, {**USD, "valid_from": f"2025-01-{day:02d}"}, format="json")
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(URL, {"currency_to": "EUR"}).status_code == 200
        return len(queries)

    assert count(1) == count(10)
    assert admin.get(URL, {"currency_to": "USD"}).json()["results"] == []
    assert set(_errors(admin.get(URL, {"currency_to": "eur"}))) == {"currency_to"}


def test_the_currency_table_names_only_known_iso_4217_codes() -> None:
    """Checked against Babel's CLDR data (a development dependency, through the docs tooling)."""
    from babel import Locale

    from stratus.reports.currencies import ISO_4217

    known = set(Locale("en").currencies)
    assert sorted(ISO_4217 - known) == []
    assert {"EUR", "USD", "GBP", "JPY", "CHF", "XOF"} <= ISO_4217
    assert not {"XAU", "XTS", "XXX", "DEM", "HRK"} & ISO_4217  # metals, testing, retired
