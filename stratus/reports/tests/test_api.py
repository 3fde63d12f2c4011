"""The reports API: JSON and CSV, filters checked field by field, roles, tenants, query counts.

The tests that take ``engine_name`` run once per report engine (``REPORTS_ENGINE``; the
ClickHouse engine on chDB loaded with the data set, see ``conftest.py``)."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from stratus.accounts.models import Role
from stratus.campaigns.models import RecipientState
from stratus.crm.models import ActivityKind, Deal
from stratus.crm.services import contact_create
from stratus.reports.contracts import REPORTS
from stratus.reports.tests.dataset import Builder, DataSet, at, build_dataset
from testsupport.factories import make_member, make_token, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def ds() -> DataSet:
    return build_dataset()


@pytest.fixture
def viewer(ds: DataSet) -> APIClient:
    return token_client(make_token(ds.org, Role.VIEWER))


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def _csv(response: Any) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_a_viewer_reads_every_report_as_json(engine_name: str, ds: DataSet, viewer: APIClient) -> None:
    for name in REPORTS:
        response = viewer.get(f"/api/v1/reports/{name}")
        assert response.status_code == 200, (name, response.content)
        assert response["Content-Type"] == "application/json"


def test_won_lost_as_json_keeps_each_currency_apart(engine_name: str, ds: DataSet, viewer: APIClient) -> None:
    body = viewer.get("/api/v1/reports/won-lost").json()
    assert (body["won_count"], body["lost_count"], body["win_rate"]) == (3, 3, 0.5)
    assert body["totals"] == [
        {"currency": "EUR", "won_count": 2, "won_value": "3000.00", "lost_count": 1, "lost_value": "400.00"},
        {"currency": "GBP", "won_count": 1, "won_value": "700.00", "lost_count": 0, "lost_value": "0.00"},
        {"currency": "USD", "won_count": 0, "won_value": "0.00", "lost_count": 2, "lost_value": "800.00"},
    ]
    assert body["by_owner"][0] == {
        "owner_id": ds.alice.pk,
        "owner": "Alice Archer",
        "currency": "EUR",
        "won_count": 1,
        "won_value": "1000.00",
        "lost_count": 1,
        "lost_value": "400.00",
    }


def test_filters_reach_the_engine(engine_name: str, ds: DataSet, viewer: APIClient) -> None:
    body = viewer.get(
        "/api/v1/reports/forecast", {"date_from": "2026-03-01", "date_to": "2026-03-31", "currency": "EUR"}
    ).json()
    assert body == {
        "by_month": [
            {
                "month": "2026-03",
                "currency": "EUR",
                "deals": 2,
                "open_value": "2000.00",
                "weighted_value": "1300.00",
            }
        ],
        "totals": [{"currency": "EUR", "deals": 2, "open_value": "2000.00", "weighted_value": "1300.00"}],
        "conversion": None,  # no currency_to asked for (see test_conversion.py)
    }
    funnel = viewer.get("/api/v1/reports/funnel", {"pipeline": ds.partners.pk, "owner": ds.bob.pk}).json()
    assert [(p["pipeline"], p["deals"]) for p in funnel["pipelines"]] == [("Partners", 1)]


def test_empty_filters_filter_nothing(ds: DataSet, viewer: APIClient) -> None:
    plain = viewer.get("/api/v1/reports/won-lost").json()
    empty = viewer.get("/api/v1/reports/won-lost?date_from=&date_to=&pipeline=&owner=&currency=").json()
    assert plain == empty


def test_csv_by_format_parameter_and_by_accept_header(ds: DataSet, viewer: APIClient) -> None:
    by_parameter = viewer.get("/api/v1/reports/forecast?format=csv")
    by_header = viewer.get("/api/v1/reports/forecast", HTTP_ACCEPT="text/csv")
    for response in (by_parameter, by_header):
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="report-forecast-')
        assert _csv(response) == [
            ["table", "month", "currency", "deals", "open_value", "weighted_value"],
            ["by_month", "2026-03", "EUR", "2", "2000.00", "1300.00"],
            ["by_month", "2026-03", "GBP", "1", "900.00", "180.00"],
            ["by_month", "2026-04", "USD", "1", "250.50", "62.63"],
            ["by_month", "", "EUR", "1", "100.00", "10.00"],
            ["totals", "", "EUR", "3", "2100.00", "1310.00"],
            ["totals", "", "GBP", "1", "900.00", "180.00"],
            ["totals", "", "USD", "1", "250.50", "62.63"],
        ]


def test_csv_flattens_nested_rows_and_keeps_the_summary(ds: DataSet, viewer: APIClient) -> None:
    funnel = _csv(viewer.get(f"/api/v1/reports/funnel?format=csv&pipeline={ds.partners.pk}"))
    assert funnel[0] == [
        "table",
        "pipeline_id",
        "pipeline",
        "deals",
        "lost",
        "stage_id",
        "stage",
        "kind",
        "reached",
        "conversion",
    ]
    intro, signed = ds.stages["Partners/Intro"].pk, ds.stages["Partners/Signed"].pk
    assert funnel[1:] == [
        ["pipelines", str(ds.partners.pk), "Partners", "2", "0", str(intro), "Intro", "open", "2", ""],
        ["pipelines", str(ds.partners.pk), "Partners", "2", "0", str(signed), "Signed", "won", "1", "0.5"],
    ]
    campaigns = _csv(viewer.get("/api/v1/reports/campaigns?format=csv&date_from=2026-02-01"))
    header, *rows = campaigns
    filled = [{name: cell for name, cell in zip(header, row, strict=True) if cell != ""} for row in rows]
    february = ds.campaigns["February"]
    counts = {"sent": "1", "delivered": "1", "opened": "1", "clicked": "0", "unsubscribed": "0"}
    assert filled == [
        {"table": "summary", **counts, "bounced": "0", "failed": "0"},
        {
            "table": "campaigns",
            "campaign_id": str(february.pk),
            "campaign": "February offer",
            "state": "sending",
            "started_at": "2026-02-10T10:00:00+00:00",
            **counts,
            "bounced": "0",
            "failed": "0",
        },
        {
            "table": "by_day",
            "day": "2026-02-10",
            "delivered": "1",
            "opened": "1",
            "clicked": "0",
            "unsubscribed": "0",
            "bounced": "0",
        },
    ]


def test_csv_neutralises_formulas(ds: DataSet, viewer: APIClient) -> None:
    Deal.objects.filter(pk=ds.deals["D2"].pk).update(lost_reason="=HYPERLINK(1)")
    rows = _csv(viewer.get("/api/v1/reports/won-lost?format=csv"))
    assert "'=HYPERLINK(1)" in [cell for row in rows for cell in row]


@pytest.mark.parametrize(
    ("report", "query", "field", "message"),
    [
        ("funnel", "date_from=2026-13-01", "date_from", "Must be a date (YYYY-MM-DD)."),
        ("funnel", "date_to=yesterday", "date_to", "Must be a date (YYYY-MM-DD)."),
        ("won-lost", "date_from=2026-02-01&date_to=2026-01-31", "date_to", "Must not be before date_from."),
        (
            "forecast",
            "currency=eur",
            "currency",
            "Must be a three-letter ISO 4217 code in capitals, e.g. EUR.",
        ),
        ("funnel", "pipeline=abc", "pipeline", "Must be an id from 1 to 9223372036854775807."),
        ("funnel", "pipeline=999999999", "pipeline", "No pipeline with id 999999999 in this organization."),
        ("velocity", "owner=999999999", "owner", "No member with id 999999999 in this organization."),
        ("activity", "pipeline=1", "pipeline", "The activity report takes no pipeline filter."),
        ("campaigns", "currency=EUR", "currency", "The campaigns report takes no currency filter."),
        ("funnel", "owner=1&owner=2", "owner", "Give one value."),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    ds: DataSet, viewer: APIClient, report: str, query: str, field: str, message: str
) -> None:
    assert _errors(viewer.get(f"/api/v1/reports/{report}?{query}")) == {field: message}


def test_a_refusal_stays_a_problem_document_when_csv_was_asked(ds: DataSet, viewer: APIClient) -> None:
    assert _errors(viewer.get("/api/v1/reports/funnel?format=csv&date_from=x")) == {
        "date_from": "Must be a date (YYYY-MM-DD)."
    }
    anonymous = APIClient().get("/api/v1/reports/funnel?format=csv")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"].startswith("application/problem+json")


def test_another_organizations_pipeline_and_member_are_unknown_here(engine_name: str, ds: DataSet) -> None:
    other = token_client(make_token(ds.other, Role.OWNER))
    assert _errors(other.get(f"/api/v1/reports/funnel?pipeline={ds.sales.pk}")) == {
        "pipeline": f"No pipeline with id {ds.sales.pk} in this organization."
    }
    assert _errors(other.get(f"/api/v1/reports/won-lost?owner={ds.alice.pk}")) == {
        "owner": f"No member with id {ds.alice.pk} in this organization."
    }


def test_another_organization_sees_only_its_own_figures(engine_name: str, ds: DataSet) -> None:
    other = token_client(make_token(ds.other, Role.VIEWER))
    won_lost = other.get("/api/v1/reports/won-lost").json()
    assert won_lost["totals"] == [
        {"currency": "EUR", "won_count": 1, "won_value": "99999.00", "lost_count": 0, "lost_value": "0.00"},
        {"currency": "USD", "won_count": 0, "won_value": "0.00", "lost_count": 1, "lost_value": "55555.00"},
    ]
    campaigns = other.get("/api/v1/reports/campaigns").json()
    assert campaigns["totals"]["delivered"] == 1
    assert [c["campaign"] for c in campaigns["campaigns"]] == ["January news"]
    activity = other.get("/api/v1/reports/activity").json()
    assert [row["owner"] for row in activity["by_owner"]] == ["Bea Other"]


def test_every_role_reads_and_nobody_unauthenticated(ds: DataSet) -> None:
    for role in (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER):
        assert token_client(make_token(ds.org, role)).get("/api/v1/reports/activity").status_code == 200
    assert APIClient().get("/api/v1/reports/activity").status_code == 401
    assert token_client(make_token(ds.org, Role.OWNER)).post("/api/v1/reports/activity").status_code == 405


def _queries(client: APIClient, path: str) -> int:
    """The report's queries; the token's lookup and last-use stamp (cached, refreshed by time) are
    the authentication's, not the report's."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return sum(1 for q in captured.captured_queries if '"accounts_apitoken"' not in q["sql"])


def _more_rows(ds: DataSet, batch: int) -> None:
    """More of everything each report reads: deals with stage history, activities, recipients."""
    b = Builder(ds.org, ds.alice)
    owner = make_member(ds.org, Role.MEMBER).user
    for n in range(batch):
        deal = b.deal(
            f"More {n}", ds.stages["Sales/Lead"], owner, ["EUR", "CHF"][n % 2], "10.00", at(1, 5 + n)
        )
        b.move(deal, ds.stages["Sales/Proposal"], at(1, 6 + n))
        if n % 2:
            b.move(deal, ds.stages["Sales/Won"], at(1, 8 + n))
        else:
            b.move(deal, ds.stages["Sales/Lost"], at(1, 8 + n), "Timing")
        contact = contact_create(
            org=ds.org, actor=ds.alice, first_name=f"More {n}", email=f"more{n}@a.example"
        )
        b.activity(ActivityKind.CALL, contact, owner, at(1, 5 + n))
        b.activity(ActivityKind.TASK, contact, ds.alice, at(1, 5 + n), due=at(1, 6 + n))
        campaign = b.campaign(f"More {n}", ds.alice, "sent", at(1, 5 + n))
        b.recipient(campaign, contact, RecipientState.SENT, sent_at=at(1, 5 + n), opened_at=at(1, 6 + n))


def test_query_counts_do_not_grow_with_rows(ds: DataSet, viewer: APIClient) -> None:
    paths = [f"/api/v1/reports/{name}?date_from=2026-01-01&owner={ds.alice.pk}" for name in REPORTS]
    paths += [f"/api/v1/reports/{name}?format=csv" for name in REPORTS]
    viewer.get(paths[0])  # the token's first use is recorded once, outside the counts
    before = {path: _queries(viewer, path) for path in paths}
    _more_rows(ds, 6)
    after = {path: _queries(viewer, path) for path in paths}
    assert after == before
    assert max(before.values()) <= 8, before


def test_a_report_day_is_a_utc_day(engine_name: str, ds: DataSet, viewer: APIClient) -> None:
    # D1 was won on 2026-01-20 09:00 UTC: inside a range ending that day, outside one ending before.
    day = datetime.date(2026, 1, 20).isoformat()
    inside = viewer.get(f"/api/v1/reports/won-lost?date_from={day}&date_to={day}").json()
    before = viewer.get("/api/v1/reports/won-lost?date_from=2026-01-16&date_to=2026-01-19").json()
    assert (inside["won_count"], before["won_count"]) == (1, 0)
