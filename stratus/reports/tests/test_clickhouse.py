"""The ClickHouse engine's own behaviour (its numbers are the conformance suite's): bound
parameters, per-query limits answered with a problem naming the report, and a store that is down
or not built answered with 503 and ``Retry-After``, or by the database engine when
``ANALYTICS_FALLBACK=database``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from rest_framework.test import APIClient

from stratus.accounts.models import Role
from stratus.analytics import client as analytics
from stratus.reports import engines
from stratus.reports.contracts import REPORTS, ReportFilters
from stratus.reports.engines import clickhouse
from stratus.reports.engines.clickhouse import ReportsUnavailable
from stratus.reports.tests import store
from stratus.reports.tests.dataset import AS_OF, DataSet, build_dataset
from testsupport.factories import make_token, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def ds() -> DataSet:
    return build_dataset()


@pytest.fixture
def viewer(ds: DataSet) -> APIClient:
    return token_client(make_token(ds.org, Role.VIEWER))


@pytest.fixture
def on_clickhouse(settings: Any, ds: DataSet, analytics_store: Callable[[], None]) -> None:
    """The API's reports from ClickHouse (chDB, loaded with the data set)."""
    settings.REPORTS_ENGINE = "clickhouse"
    analytics_store()


@pytest.fixture
def dead_server(analytics_store: Callable[[], None], dead_analytics_store: str) -> str:
    """``ANALYTICS_URL`` pointing at a port where nothing listens."""
    return dead_analytics_store


def _problem(response: Any, status: int) -> dict[str, Any]:
    """The problem document, with its ``code`` (the end of its ``type``)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = dict(response.json())
    return {**body, "code": body["type"].rsplit(":", 1)[-1]}


def test_every_statement_binds_the_organization_and_the_filters(
    ds: DataSet, on_clickhouse: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    read = analytics.read

    def spy(sql: str, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        seen.append((sql, dict(parameters)))
        return read(sql, parameters)

    monkeypatch.setattr(analytics, "read", spy)
    engine = engines.get_engine("clickhouse")
    for name, contract in REPORTS.items():
        filters = ReportFilters(
            organization_id=ds.org.pk,
            as_of=AS_OF,
            owner_id=ds.bob.pk,
            pipeline_id=ds.sales.pk if "pipeline" in contract.filters else None,
            currency="GBP" if "currency" in contract.filters else None,
        )
        engines.run(name, filters, engine)
    assert len(seen) >= len(REPORTS)
    for sql, parameters in seen:
        assert parameters["organization_id"] == ds.org.pk
        assert "organization_id = {organization_id:UInt64}" in sql
        assert "GBP" not in sql
        for name, value in parameters.items():
            assert f"{{{name}:" in sql  # every value sent apart from the text, typed
            if isinstance(value, int) and value > 9:  # ids: never written into the text
                assert str(value) not in sql, (name, sql)


def test_a_report_over_a_limit_is_refused_with_a_problem_naming_it(
    settings: Any, on_clickhouse: None, viewer: APIClient
) -> None:
    settings.ANALYTICS_MAX_RESULT_ROWS = 2  # won-lost has 12 rows by month, owner and reason
    body = _problem(viewer.get("/api/v1/reports/won-lost"), 422)
    assert body["code"] == "report_too_heavy"
    assert "Won and lost" in body["detail"]
    assert "max_result_rows" in body["detail"]
    settings.ANALYTICS_MAX_RESULT_ROWS = 100_000
    assert viewer.get("/api/v1/reports/won-lost").status_code == 200


def test_the_memory_limit_is_sent_with_each_query(
    settings: Any, on_clickhouse: None, viewer: APIClient
) -> None:
    settings.ANALYTICS_MAX_MEMORY_USAGE = 1_000  # bytes: no query fits
    body = _problem(viewer.get("/api/v1/reports/velocity"), 422)
    assert (body["code"], "Velocity" in body["detail"]) == ("report_too_heavy", True)
    assert "max_memory_usage" in body["detail"]


def test_a_dead_server_answers_503_with_a_retry_hint_and_the_rest_of_the_app_works(
    settings: Any, ds: DataSet, viewer: APIClient, dead_server: str
) -> None:
    settings.ANALYTICS_FALLBACK = "error"
    settings.ANALYTICS_RETRY_AFTER = 45
    for name in REPORTS:
        response = viewer.get(f"/api/v1/reports/{name}")
        body = _problem(response, 503)
        assert response["Retry-After"] == "45"
        assert body["code"] == "reports_unavailable"
        assert REPORTS[name].title in body["detail"]
    csv = viewer.get("/api/v1/reports/funnel?format=csv")
    assert _problem(csv, 503)["code"] == "reports_unavailable"
    assert viewer.get("/api/v1/deals").status_code == 200


def test_a_dead_server_falls_back_to_the_database_when_configured(
    settings: Any, ds: DataSet, viewer: APIClient, dead_server: str
) -> None:
    settings.ANALYTICS_FALLBACK = "database"
    from_fallback = {name: viewer.get(f"/api/v1/reports/{name}?owner={ds.alice.pk}") for name in REPORTS}
    settings.REPORTS_ENGINE = "database"
    for name, response in from_fallback.items():
        assert response.status_code == 200, (name, response.content)
        assert response.json() == viewer.get(f"/api/v1/reports/{name}?owner={ds.alice.pk}").json()


def test_a_store_not_built_yet_answers_503(
    settings: Any, ds: DataSet, viewer: APIClient, analytics_url: str, analytics_store: Callable[[], None]
) -> None:
    settings.REPORTS_ENGINE = "clickhouse"
    settings.ANALYTICS_URL = analytics_url.replace("database=reports_test", "database=never_built")
    settings.ANALYTICS_FALLBACK = "error"
    response = viewer.get("/api/v1/reports/activity")
    assert _problem(response, 503)["code"] == "reports_unavailable"
    assert response["Retry-After"] == str(settings.ANALYTICS_RETRY_AFTER)


def test_a_store_that_is_not_configured_answers_503(
    settings: Any, ds: DataSet, viewer: APIClient, analytics_store: Callable[[], None]
) -> None:
    settings.REPORTS_ENGINE = "clickhouse"
    settings.ANALYTICS_URL = ""
    settings.ANALYTICS_FALLBACK = "error"
    assert _problem(viewer.get("/api/v1/reports/forecast"), 503)["code"] == "reports_unavailable"


def test_rows_deleted_or_replaced_in_the_store_count_once(
    ds: DataSet, analytics_store: Callable[[], None]
) -> None:
    # The shipper may send a row twice (a batch retried) and ships a deletion as a tombstone: the
    # engine reads FINAL, the latest version of each live row, before any merge.
    from stratus.analytics import schema

    analytics_store()
    writer = analytics.writer()
    writer.command(f"SYSTEM STOP MERGES `{writer.database}`.`deals`")
    deal = ds.deals["D3"]  # won, EUR 2000
    row = store.row_values(schema.DEALS, next(iter(
        type(deal).objects.filter(pk=deal.pk).values_list(*schema.fields(schema.DEALS))
    )))  # fmt: skip
    names = [*schema.DEALS.names, schema.VERSION, schema.DELETED]
    writer.insert("deals", names, [[*row, 1, 0], [*row, 1, 0]])  # the same version again
    won_lost = engines.get_engine("clickhouse").won_lost
    filters = ReportFilters(organization_id=ds.org.pk, as_of=AS_OF)
    assert won_lost(filters).won_count == 3
    writer.insert("deals", names, [[*store.tombstone(schema.DEALS, ds.org.pk, deal.pk), 2, 1]])
    assert won_lost(filters).won_count == 2
    writer.command(f"SYSTEM START MERGES `{writer.database}`.`deals`")


def test_a_store_found_down_is_not_tried_again_for_a_moment(
    settings: Any, ds: DataSet, dead_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ANALYTICS_FALLBACK = "error"
    filters = ReportFilters(organization_id=ds.org.pk, as_of=AS_OF)
    engine = engines.get_engine("clickhouse")
    with pytest.raises(ReportsUnavailable):
        engine.funnel(filters)
    tried: list[str] = []

    def reader() -> Any:
        tried.append("reader")
        raise analytics.AnalyticsUnavailable("connection refused")

    monkeypatch.setattr(analytics, "reader", reader)
    with pytest.raises(ReportsUnavailable):
        engine.forecast(filters)
    assert tried == []  # answered at once, without a connection attempt
    monkeypatch.setattr(clickhouse, "_down_until", {dead_server: time.monotonic() - 1})
    with pytest.raises(ReportsUnavailable):
        engine.forecast(filters)
    assert tried == ["reader"]  # the moment passed: tried again
