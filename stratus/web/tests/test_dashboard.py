"""The dashboard through Django's test client: the numbers and their lists, the pickers, the CSV,
arranging and sharing dashboards (admins only), tenant isolation and query counts."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stratus.accounts.models import Organization, Role, User
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Deal
from stratus.reports.tests.dataset import DataSet, build_dataset
from stratus.web.lists import state
from stratus.web.models import Dashboard
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def ds() -> DataSet:
    return build_dataset()


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _charts(body: str) -> list[dict[str, Any]]:
    found = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', body, re.S)
    assert found is not None
    charts: list[dict[str, Any]] = json.loads(found.group(1))
    return charts


def _list_count(org: Organization, link: str) -> int:
    """The count of the list a link opens, as the list page computes it (its selector)."""
    parts = urlsplit(link)
    filters = state.filters_of(dict(parse_qs(parts.query).items()))
    selector = {"/deals": crm_selectors.deal_list, "/activities": crm_selectors.activity_list}[parts.path]
    return int(selector(org=org, filters=filters).count())


def test_every_bar_links_to_a_list_of_exactly_its_records(ds: DataSet) -> None:
    for query in ("", "?date_from=2026-01-01&date_to=2026-02-15", f"?pipeline={ds.sales.pk}&currency=EUR"):
        response = _client(ds.alice).get("/" + query)
        assert response.status_code == 200
        charts = _charts(response.content.decode())
        assert {c["id"].split("-")[0] for c in charts} >= {"funnel", "won", "activity"}
        checked = 0
        for chart in charts:
            for dataset in chart["datasets"]:
                for index, (value, link) in enumerate(zip(dataset["data"], dataset["links"], strict=True)):
                    if link is None:
                        continue
                    deals = chart["counts"]
                    # Money bars: the list holds the bar's deals (their count beside the bar), and
                    # their values add up to the bar (won: every deal is won; open: weighted aside).
                    expected = value if deals is None else deals[index]
                    assert _list_count(ds.org, link) == expected, (chart["id"], link)
                    if chart["id"].startswith("won") or dataset["label"] == "Open value":
                        listed = crm_selectors.deal_list(
                            org=ds.org, filters=state.filters_of(parse_qs(urlsplit(link).query))
                        )
                        assert float(sum(d.value for d in listed)) == pytest.approx(value)
                    checked += 1
        assert checked


def test_the_funnel_counts_deals_that_passed_a_stage_and_its_list_holds_them(ds: DataSet) -> None:
    body = _client(ds.alice).get(f"/?pipeline={ds.sales.pk}").content.decode()
    (funnel,) = [c for c in _charts(body) if c["id"] == f"funnel-{ds.sales.pk}"]
    reached = dict(zip(funnel["labels"], funnel["datasets"][0]["data"], strict=True))
    # From the data set's script: D1..D9 created; Qualified was reached by D1, D2, D3, D5, D6, D7.
    assert reached["Qualified"] == 6
    link = funnel["datasets"][0]["links"][funnel["labels"].index("Qualified")]
    names = set(
        crm_selectors.deal_list(
            org=ds.org, filters=state.filters_of(parse_qs(urlsplit(link).query))
        ).values_list("title", flat=True)
    )
    assert names == {"D1", "D2", "D3", "D5", "D6", "D7"}


def test_forecast_bars_open_the_open_deals_of_that_month(ds: DataSet) -> None:
    body = _client(ds.alice).get("/?currency=EUR").content.decode()
    (forecast,) = [c for c in _charts(body) if c["id"] == "forecast-EUR"]
    march = forecast["labels"].index("2026-03")
    link = forecast["datasets"][0]["links"][march]
    deals = crm_selectors.deal_list(org=ds.org, filters=state.filters_of(parse_qs(urlsplit(link).query)))
    assert sorted(deals.values_list("title", flat=True)) == ["D5", "D6"]
    assert forecast["datasets"][0]["data"][march] == 2000.0
    no_date = forecast["datasets"][0]["links"][forecast["labels"].index("No date")]
    deals = crm_selectors.deal_list(org=ds.org, filters=state.filters_of(parse_qs(urlsplit(no_date).query)))
    assert list(deals.values_list("title", flat=True)) == ["D9"]


def test_money_is_per_currency_never_summed(ds: DataSet) -> None:
    charts = _charts(_client(ds.alice).get("/").content.decode())
    won = {c["id"] for c in charts if c["id"].startswith("won-")}
    assert won == {"won-EUR", "won-GBP"}  # D1 and D3 won in EUR, P1 in GBP; nothing won in USD
    for chart in charts:
        if chart["id"].startswith(("won-", "forecast-")):
            assert chart["currency"] == chart["id"].split("-")[1]


def test_a_refused_picker_is_shown_beside_it_and_nothing_is_computed(ds: DataSet) -> None:
    response = _client(ds.alice).get(
        "/?date_from=2026-03-01&date_to=2026-01-01", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dashboard-view"
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Must not be before date_from." in body
    assert _charts(body) == []
    other = make_organization("Elsewhere")
    foreign = other.pk  # an id that is no pipeline of this organization
    body = _client(ds.alice).get(f"/?pipeline={foreign}").content.decode()
    assert 'id="picker-pipeline-error"' in body


def test_the_pickers_get_the_charts_fragment_with_htmx(ds: DataSet) -> None:
    response = _client(ds.alice).get(
        f"/?pipeline={ds.partners.pk}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dashboard-view"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="dashboard-view"')
    ids = {c["id"] for c in _charts(body)}
    assert f"funnel-{ds.partners.pk}" in ids
    assert f"funnel-{ds.sales.pk}" not in ids


def test_another_organization_sees_none_of_it(ds: DataSet) -> None:
    stranger = _member(ds.other)
    charts = _charts(_client(stranger).get("/").content.decode())
    theirs = set(crm_selectors.pipeline_list(org=ds.other).values_list("pk", flat=True))
    funnels = {int(c["id"].removeprefix("funnel-")) for c in charts if c["id"].startswith("funnel-")}
    assert funnels <= theirs
    # B's look-alike data: each of B's bars counts B's records only.
    for chart in charts:
        if chart["id"].startswith(("funnel", "activity")):
            for dataset in chart["datasets"]:
                for value, link in zip(dataset["data"], dataset["links"], strict=True):
                    if link:
                        assert _list_count(ds.other, link) == value
    assert _client(stranger).get(f"/?pipeline={ds.sales.pk}").status_code == 400


def test_the_csv_is_the_reports_table_for_the_pages_organization(ds: DataSet) -> None:
    response = _client(ds.alice).get(reverse("web:dashboard-csv", args=["won-lost"]) + "?currency=EUR")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    summary = [r for r in rows if r["table"] == "summary"]
    assert summary[0]["won_count"] == "2"
    assert summary[0]["lost_count"] == "1"
    assert {r["currency"] for r in rows if r["table"] == "by_month"} == {"EUR"}
    assert _client(ds.alice).get(reverse("web:dashboard-csv", args=["nope"])).status_code == 404
    refused = _client(ds.alice).get(reverse("web:dashboard-csv", args=["funnel"]) + "?date_from=x")
    assert refused.status_code == 400


def test_the_page_links_each_chart_to_its_csv_with_the_same_pickers(ds: DataSet) -> None:
    body = unescape(_client(ds.alice).get(f"/?pipeline={ds.sales.pk}&currency=EUR").content.decode())
    assert f'href="/dashboard/csv/forecast?pipeline={ds.sales.pk}&currency=EUR"' in body
    assert 'href="/dashboard/csv/activity?"' in body  # the activity report takes no pipeline or currency


def test_only_admins_arrange_dashboards_and_members_pick_the_shared_ones(ds: DataSet) -> None:
    admin = _member(ds.org, Role.ADMIN)
    member = _member(ds.org, Role.MEMBER)
    new = reverse("web:dashboard-new")
    assert _client(member).get(new).status_code == 403
    assert _client(member).post(new, {"name": "Mine", "charts": ["won"]}).status_code == 403
    assert not Dashboard.objects.exists()

    refused = _client(admin).post(new, {"name": "", "charts": []})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Give the dashboard a name." in body
    assert "Pick at least one chart." in body
    assert not Dashboard.objects.exists()

    saved = _client(admin).post(new, {"name": "Sales floor", "charts": ["won", "funnel"], "shared": "on"})
    assert saved.status_code == 302
    board = Dashboard.objects.get()
    assert board.charts == ["funnel", "won"]
    assert board.shared
    assert board.organization == ds.org
    hidden = _client(admin).post(new, {"name": "Draft", "charts": ["tasks"]})
    assert hidden.status_code == 302

    page = _client(member).get(f"/?dashboard={board.pk}").content.decode()
    assert "Sales floor" in page
    assert "Draft" not in page
    assert 'data-testid="panel-won"' in page
    assert 'data-testid="panel-forecast"' not in page
    assert 'data-testid="dashboard-new"' not in page
    edit = reverse("web:dashboard-edit", args=[board.pk])
    assert _client(member).post(edit, {"name": "Taken", "charts": ["won"]}).status_code == 403
    assert _client(member).post(reverse("web:dashboard-delete", args=[board.pk])).status_code == 403
    assert Dashboard.objects.filter(name="Sales floor").exists()

    # Another organization's admin can neither see nor change it.
    stranger = _member(ds.other, Role.ADMIN)
    assert _client(stranger).get(edit).status_code == 404
    assert "Sales floor" not in _client(stranger).get(f"/?dashboard={board.pk}").content.decode()
    assert _client(stranger).post(reverse("web:dashboard-delete", args=[board.pk])).status_code == 404

    duplicate = _client(admin).post(new, {"name": "sales FLOOR", "charts": ["won"]})
    assert duplicate.status_code == 400
    assert "A dashboard with this name exists." in duplicate.content.decode()


def test_the_default_layout_shows_every_chart_and_my_open_tasks(ds: DataSet) -> None:
    body = _client(ds.alice).get("/").content.decode()
    for key in ("funnel", "won", "forecast", "activity", "tasks"):
        assert f'data-testid="panel-{key}"' in body
    assert "<title>Dashboard · Stratus</title>" in body


def test_the_dashboard_costs_the_same_queries_for_few_rows_or_many(ds: DataSet) -> None:
    client = _client(ds.alice)
    client.get("/")  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    first = ds.deals["D1"]
    for n in range(15):
        Deal.objects.create(
            organization=ds.org,
            title=f"More {n}",
            pipeline=first.pipeline,
            stage=first.stage,
            owner=ds.bob,
            currency="CHF",
            value=n,
        )
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_deal_filters_the_charts_link_with_stay_in_the_organization(ds: DataSet) -> None:
    stage = ds.stages["Sales/Qualified"]
    theirs = crm_selectors.deal_list(org=ds.other, filters={"reached_stage": str(stage.pk)})
    assert theirs.count() == 0  # another organization's stage id selects none of its deals
    with_date = crm_selectors.deal_list(org=ds.org, filters={"has_expected_close": "true"}).count()
    without = crm_selectors.deal_list(org=ds.org, filters={"has_expected_close": "false"}).count()
    assert with_date + without == Deal.objects.filter(organization=ds.org).count()
    assert sorted(
        crm_selectors.deal_list(
            org=ds.org, filters={"has_expected_close": "false", "status": "open"}
        ).values_list("title", flat=True)
    ) == ["D9"]


def test_with_the_analytics_store_down_each_chart_says_so_and_the_page_still_works(
    ds: DataSet, dead_analytics_store: str
) -> None:
    response = _client(ds.alice).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    for key in ("funnel", "won", "forecast", "activity"):
        assert f'data-testid="panel-failed-{key}"' in body, key
    assert 'data-testid="panel-tasks"' in body  # my open tasks do not need the store
    csv_response = _client(ds.alice).get(reverse("web:dashboard-csv", args=["won-lost"]))
    assert csv_response.status_code == 503
    assert int(csv_response["Retry-After"]) > 0
