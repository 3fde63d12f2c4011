"""Money converted to a reporting currency with the organization's rates: exact numbers.

The fixed data set of the conformance suite (see ``dataset.py``) has deals in EUR, GBP and
USD. Rates into EUR: USD 0.9 from 2025-06-01, USD 0.9234 from 2026-01-01 and USD 0.95 from
2027-01-01 (not yet valid on the rate dates used here); GBP has none unless a test adds it.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from decimal import Decimal as M
from typing import Any

import pytest
from rest_framework.test import APIClient

from stratus.accounts.models import Role
from stratus.reports import engines
from stratus.reports.contracts import REPORTS, ReportFilters
from stratus.reports.conversion import convert, convert_value, money_tables
from stratus.reports.selectors import rates_in_force
from stratus.reports.services import exchange_rate_create
from stratus.reports.tests.dataset import DataSet, build_dataset
from testsupport.factories import make_token, token_client

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def ds() -> DataSet:
    data = build_dataset()
    for currency, rate, day in (
        ("USD", "0.9", D(2025, 6, 1)),
        ("USD", "0.9234", D(2026, 1, 1)),
        ("USD", "0.95", D(2027, 1, 1)),
    ):
        exchange_rate_create(
            org=data.org, actor=None, currency=currency, currency_to="EUR", rate=rate, valid_from=day
        )
    return data


@pytest.fixture
def viewer(ds: DataSet) -> APIClient:
    return token_client(make_token(ds.org, Role.VIEWER))


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


# --- the arithmetic -------------------------------------------------------------------------------


def test_a_converted_figure_is_exact_then_rounded_half_up_to_cents() -> None:
    assert convert_value(M("0.05"), M("0.5")) == M("0.03")  # 0.025: half up, not to even
    assert convert_value(M("0.15"), M("0.5")) == M("0.08")  # 0.075
    assert convert_value(M("250.50"), M("0.9234")) == M("231.31")  # 231.31170
    assert convert_value(M("62.63"), M("0.9234")) == M("57.83")  # 57.832542
    # A product longer than the default context's 28 digits is still exact before rounding.
    value, rate = M("999999999999999.99"), M("1234567890.0123456789")
    product = 99999999999999999 * 12345678900123456789  # in units of 10**-12
    cents, rest = divmod(product, 10**10)
    expected = M(cents + (1 if rest * 2 >= 10**10 else 0)).scaleb(-2)
    assert convert_value(value, rate) == expected == M("1234567890012345666554321.10")


def test_only_the_reports_with_money_have_money_tables() -> None:
    tables = {name: [t.name for t in money_tables(c.result)] for name, c in REPORTS.items()}
    assert tables == {
        "funnel": [],
        "velocity": [],
        "won-lost": ["totals", "by_month", "by_owner", "by_lost_reason"],
        "forecast": ["by_month", "totals"],
        "activity": [],
        "campaigns": [],
    }
    by_owner = money_tables(REPORTS["won-lost"].result)[2]
    assert (by_owner.keys, by_owner.money) == (("owner_id", "owner"), ("won_value", "lost_value"))


# --- over the API: won and lost -----------------------------------------------------------------


def test_won_lost_in_euros_lists_the_rate_used_and_the_currency_without_one(
    ds: DataSet, viewer: APIClient
) -> None:
    response = viewer.get("/api/v1/reports/won-lost", {"currency_to": "EUR", "rates_on": "2026-02-28"})
    assert response.status_code == 200, response.content
    body = response.json()
    # The engine's figures are unchanged, per currency.
    assert [row["currency"] for row in body["totals"]] == ["EUR", "GBP", "USD"]
    conversion = body["conversion"]
    assert conversion["currency_to"] == "EUR"
    assert conversion["rates_on"] == "2026-02-28"
    assert conversion["rates"] == [
        {"currency": "USD", "currency_to": "EUR", "rate": "0.9234", "valid_from": "2026-01-01"}
    ]
    assert conversion["unconverted"] == [
        {"table": "by_month", "currency": "GBP", "rows": 1},
        {"table": "by_owner", "currency": "GBP", "rows": 1},
        {"table": "totals", "currency": "GBP", "rows": 1},
    ]
    assert conversion["totals"] == [
        {"currency": "EUR", "rate": "1", "won_value": "3000.00", "lost_value": "400.00"},
        {"currency": "GBP", "rate": None, "won_value": None, "lost_value": None},
        {"currency": "USD", "rate": "0.9234", "won_value": "0.00", "lost_value": "738.72"},
    ]
    # GBP has no rate: the total is not given rather than given without it.
    assert conversion["totals_combined"] == [
        {
            "currencies": ["EUR", "GBP", "USD"],
            "missing_currencies": ["GBP"],
            "won_value": None,
            "lost_value": None,
        }
    ]
    assert conversion["by_month_combined"] == [
        {
            "month": "2026-01",
            "currencies": ["EUR", "GBP", "USD"],
            "missing_currencies": ["GBP"],
            "won_value": None,
            "lost_value": None,
        },
        # EUR 2000 won, 400 lost; USD 300 lost * 0.9234 = 277.02.
        {
            "month": "2026-02",
            "currencies": ["EUR", "USD"],
            "missing_currencies": [],
            "won_value": "2000.00",
            "lost_value": "677.02",
        },
    ]
    assert conversion["by_lost_reason_combined"] == [
        {"lost_reason": "No budget", "currencies": ["USD"], "missing_currencies": [], "value": "277.02"},
        # EUR 400 + USD 500 * 0.9234 = 461.70
        {"lost_reason": "Price", "currencies": ["EUR", "USD"], "missing_currencies": [], "value": "861.70"},
    ]


def test_with_every_rate_the_totals_combine(ds: DataSet, viewer: APIClient) -> None:
    exchange_rate_create(
        org=ds.org, actor=None, currency="GBP", currency_to="EUR", rate="1.1675", valid_from=D(2026, 1, 15)
    )
    conversion = viewer.get(
        "/api/v1/reports/won-lost", {"currency_to": "EUR", "rates_on": "2026-02-28"}
    ).json()["conversion"]
    assert conversion["unconverted"] == []
    assert conversion["rates"] == [
        {"currency": "GBP", "currency_to": "EUR", "rate": "1.1675", "valid_from": "2026-01-15"},
        {"currency": "USD", "currency_to": "EUR", "rate": "0.9234", "valid_from": "2026-01-01"},
    ]
    # Won: 3000 + 700 * 1.1675 (817.25) = 3817.25; lost: 400 + 800 * 0.9234 (738.72) = 1138.72.
    assert conversion["totals_combined"] == [
        {
            "currencies": ["EUR", "GBP", "USD"],
            "missing_currencies": [],
            "won_value": "3817.25",
            "lost_value": "1138.72",
        }
    ]
    combined = conversion["by_owner_combined"]
    assert [(row["owner"], row["won_value"], row["lost_value"]) for row in combined] == [
        ("Alice Archer", "1000.00", "861.70"),  # 400 + 500 * 0.9234
        ("Bob Baker", "2817.25", "277.02"),  # 2000 + 817.25; 300 * 0.9234
    ]


def test_the_rate_in_force_follows_the_rate_date(ds: DataSet, viewer: APIClient) -> None:
    def usd_rate(**params: str) -> tuple[str, str]:
        conversion = viewer.get("/api/v1/reports/won-lost", {"currency_to": "EUR", **params}).json()[
            "conversion"
        ]
        (rate,) = [r for r in conversion["rates"] if r["currency"] == "USD"]
        return rate["rate"], conversion["rates_on"]

    assert usd_rate(rates_on="2025-12-31") == ("0.9", "2025-12-31")
    assert usd_rate(rates_on="2026-01-01") == ("0.9234", "2026-01-01")
    assert usd_rate(rates_on="2027-01-01") == ("0.95", "2027-01-01")
    # By default the last day of the range.
    assert usd_rate(date_from="2026-01-01", date_to="2027-06-30") == ("0.95", "2027-06-30")


def test_before_any_rate_nothing_but_the_reporting_currency_converts(ds: DataSet, viewer: APIClient) -> None:
    conversion = viewer.get(
        "/api/v1/reports/won-lost", {"currency_to": "EUR", "rates_on": "2020-01-01"}
    ).json()["conversion"]
    assert conversion["rates"] == []
    assert {(u["table"], u["currency"]) for u in conversion["unconverted"]} >= {
        ("totals", "GBP"),
        ("totals", "USD"),
    }
    assert conversion["totals"][0] == {
        "currency": "EUR",
        "rate": "1",
        "won_value": "3000.00",
        "lost_value": "400.00",
    }


def test_without_currency_to_there_is_no_conversion(ds: DataSet, viewer: APIClient) -> None:
    assert viewer.get("/api/v1/reports/won-lost").json()["conversion"] is None
    assert "conversion" not in viewer.get("/api/v1/reports/funnel").json()


# --- forecast and CSV ---------------------------------------------------------------------------


def test_forecast_in_euros(ds: DataSet, viewer: APIClient) -> None:
    conversion = viewer.get(
        "/api/v1/reports/forecast", {"currency_to": "EUR", "rates_on": "2026-03-01"}
    ).json()["conversion"]
    assert conversion["by_month"][2] == {
        "month": "2026-04",
        "currency": "USD",
        "rate": "0.9234",
        "open_value": "231.31",  # 250.50 * 0.9234 = 231.311700
        "weighted_value": "57.83",  # 62.63 * 0.9234 = 57.832542
    }
    assert conversion["totals_combined"] == [
        {
            "currencies": ["EUR", "GBP", "USD"],
            "missing_currencies": ["GBP"],
            "open_value": None,
            "weighted_value": None,
        }
    ]


def test_the_csv_has_the_converted_columns_the_rates_and_the_unconverted(
    ds: DataSet, viewer: APIClient
) -> None:
    response = viewer.get(
        "/api/v1/reports/won-lost", {"currency_to": "EUR", "rates_on": "2026-02-28", "format": "csv"}
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    totals = [r for r in rows if r["table"] == "totals"]
    assert [
        (r["currency"], r["currency_to"], r["rate"], r["won_value_converted"], r["lost_value_converted"])
        for r in totals
    ] == [
        ("EUR", "EUR", "1", "3000.00", "400.00"),
        ("GBP", "EUR", "", "", ""),
        ("USD", "EUR", "0.9234", "0.00", "738.72"),
    ]
    (rate,) = [r for r in rows if r["table"] == "rates"]
    assert (rate["currency"], rate["currency_to"], rate["rate"], rate["valid_from"]) == (
        "USD",
        "EUR",
        "0.9234",
        "2026-01-01",
    )
    unconverted = [
        (r["unconverted_table"], r["currency"], r["unconverted_rows"])
        for r in rows
        if r["table"] == "unconverted"
    ]
    assert unconverted == [("by_month", "GBP", "1"), ("by_owner", "GBP", "1"), ("totals", "GBP", "1")]
    february = [r for r in rows if r["table"] == "by_month_combined" and r["month"] == "2026-02"]
    assert [(r["currencies"], r["won_value_converted"], r["lost_value_converted"]) for r in february] == [
        ("EUR USD", "2000.00", "677.02")
    ]


# --- refusals -----------------------------------------------------------------------------------


def test_conversion_parameters_are_refused_by_name(ds: DataSet, viewer: APIClient) -> None:
    assert _errors(viewer.get("/api/v1/reports/funnel", {"currency_to": "EUR"})) == {
        "currency_to": "The funnel report has no money figures to convert."
    }
    assert (
        "ISO 4217" in _errors(viewer.get("/api/v1/reports/won-lost", {"currency_to": "eur"}))["currency_to"]
    )
    assert _errors(viewer.get("/api/v1/reports/won-lost", {"currency_to": "XYZ"})) == {
        "currency_to": "XYZ is not an ISO 4217 currency code."
    }
    assert (
        "no exchange rates into JPY"
        in _errors(viewer.get("/api/v1/reports/won-lost", {"currency_to": "JPY"}))["currency_to"]
    )
    assert _errors(
        viewer.get("/api/v1/reports/won-lost", {"currency_to": "EUR", "rates_on": "2026-02-30"})
    ) == {"rates_on": "Must be a date (YYYY-MM-DD)."}
    assert set(_errors(viewer.get("/api/v1/reports/won-lost", {"rates_on": "2026-02-01"}))) == {"currency_to"}


def test_another_organizations_rates_are_not_used(ds: DataSet) -> None:
    other = token_client(make_token(ds.other, Role.VIEWER))
    assert (
        "no exchange rates into EUR"
        in _errors(other.get("/api/v1/reports/won-lost", {"currency_to": "EUR"}))["currency_to"]
    )


def test_every_engine_gets_the_conversion(ds: DataSet, analytics_store: Callable[[], None]) -> None:
    """The layer reads only the contract's dataclasses: any engine's answer converts the same."""
    analytics_store()  # the ClickHouse engine's store, loaded with the data set
    filters = ReportFilters(
        organization_id=ds.org.pk, as_of=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    )
    for name in engines.engine_names():
        result = engines.run("won-lost", filters, engines.get_engine(name))
        conversion = convert(
            result,
            currency_to="EUR",
            rates_on=D(2026, 2, 28),
            rates=rates_in_force(org=ds.org, currency_to="EUR", on=D(2026, 2, 28)),
        )
        assert [row.lost_value for row in conversion.totals] == [M("400.00"), None, M("738.72")], name
