"""Both engines agree on data that reached ClickHouse the way production data does: the
conformance data set committed in PostgreSQL, copied by ``analytics_backfill`` (queued in the
outbox and sent by the shipper), then a deal corrected and a deal deleted in the app and shipped.

Runs on committed data (``transactional_db``): the shipper only takes changes of ended
transactions, as in production.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import pytest

from stratus.analytics import backfill, schema, shipper
from stratus.analytics import client as analytics
from stratus.crm.models import Deal
from stratus.crm.services import deal_delete, deal_move, deal_update
from stratus.reports import engines
from stratus.reports.contracts import REPORTS, ReportFilters
from stratus.reports.tests.dataset import AS_OF, DataSet, build_dataset


@pytest.fixture
def shipped(transactional_db: None, settings: Any, analytics_url: str) -> Iterator[DataSet]:
    """The data set, built in PostgreSQL and backfilled into an empty store."""
    settings.ANALYTICS_URL = settings.ANALYTICS_WRITER_URL = analytics_url
    writer = analytics.writer()
    writer.command(f"DROP DATABASE IF EXISTS `{writer.database}`")
    schema.migrate(writer)
    ds = build_dataset()
    backfill.backfill(restart=True)
    yield ds
    shipper.set_capturing(False)


def _every_report(ds: DataSet) -> Iterator[tuple[str, ReportFilters]]:
    january = (datetime.date(2026, 1, 1), datetime.date(2026, 1, 31))
    for name, contract in REPORTS.items():
        yield name, ReportFilters(organization_id=ds.org.pk, as_of=AS_OF)
        yield name, ReportFilters(ds.org.pk, AS_OF, *january, owner_id=ds.alice.pk)
        if "currency" in contract.filters:
            yield name, ReportFilters(ds.org.pk, AS_OF, pipeline_id=ds.sales.pk, currency="EUR")
        yield name, ReportFilters(organization_id=ds.other.pk, as_of=AS_OF)


def _assert_agree(ds: DataSet) -> None:
    database, clickhouse = engines.get_engine("database"), engines.get_engine("clickhouse")
    for name, filters in _every_report(ds):
        assert engines.run(name, filters, clickhouse) == engines.run(name, filters, database), (name, filters)


def test_the_engines_agree_after_the_backfill_and_after_changes(shipped: DataSet) -> None:
    ds = shipped
    _assert_agree(ds)
    d3 = Deal.objects.get(pk=ds.deals["D3"].pk)
    deal_update(org=ds.org, actor=ds.alice, deal=d3, value=decimal.Decimal("2500.55"))
    deal_delete(org=ds.org, actor=ds.alice, deal=Deal.objects.get(pk=ds.deals["D8"].pk))
    backfill.drain()
    report = engines.run("won-lost", ReportFilters(ds.org.pk, AS_OF), engines.get_engine("clickhouse"))
    assert (report.won_count, report.lost_count) == (3, 2)
    assert report.totals[0].won_value == decimal.Decimal("3500.55")  # EUR: D1 1000 + D3 2500.55
    _assert_agree(ds)


def test_the_engines_agree_on_deals_moved_to_another_pipeline(shipped: DataSet) -> None:
    # The funnel counts a deal in its pipeline of now, up to the highest stage it reached there:
    # D5 (Sales: Lead, Proposal) and D9 (Sales: Lead) moved to Partners/Intro keep their Sales
    # stays, which no longer count.
    ds = shipped
    intro = ds.stages["Partners/Intro"]
    for name in ("D5", "D9"):
        deal_move(org=ds.org, actor=ds.alice, deal=ds.deals[name].pk, stage=intro)
    backfill.drain()
    funnel = engines.run("funnel", ReportFilters(ds.org.pk, AS_OF), engines.get_engine("clickhouse"))
    partners = next(p for p in funnel.pipelines if p.pipeline_id == intro.pipeline_id)
    assert partners.deals == 4  # P1, P2, D5, D9
    assert partners.stages[0].reached == 4  # all four stayed in Intro
    _assert_agree(ds)
