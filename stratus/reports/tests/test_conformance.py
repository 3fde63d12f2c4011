"""The report conformance suite: every registered engine, the fixed data set, exact numbers.

Each test builds the data set of ``dataset.py`` and compares an engine's whole answer with the
expected dataclass (every row, in order). The suite is parametrized over
``engines.engine_names()``: an engine that registers (ClickHouse) runs it unchanged and must
give the same answers. The numbers are worked out by hand in the comments of each test, from
the script in ``dataset.py``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from stratus.reports import engines
from stratus.reports.contracts import (
    ActivityOwner,
    ActivityReport,
    ActivityWeek,
    CampaignDay,
    CampaignRow,
    CampaignsReport,
    CampaignTotals,
    ForecastReport,
    ForecastRow,
    ForecastTotals,
    FunnelPipeline,
    FunnelReport,
    FunnelStage,
    LostReasonRow,
    MonthOutcome,
    OutcomeTotals,
    OverdueOwner,
    OwnerOutcome,
    ReportFilters,
    StageVelocity,
    VelocityReport,
    WonLostReport,
)
from stratus.reports.tests.dataset import AS_OF, DataSet, at, build_dataset

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("engine_name", engines.engine_names())]

JAN = (datetime.date(2026, 1, 1), datetime.date(2026, 1, 31))
FEB = (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
MAR = (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


@pytest.fixture
def ds() -> DataSet:
    return build_dataset()


def run(
    engine_name: str,
    report: str,
    ds: DataSet,
    dates: tuple[datetime.date, datetime.date] | None = None,
    **kw: Any,
) -> Any:
    filters = ReportFilters(
        organization_id=ds.org.pk,
        as_of=AS_OF,
        date_from=dates[0] if dates else None,
        date_to=dates[1] if dates else None,
        **kw,
    )
    return engines.run(report, filters, engines.get_engine(engine_name))


def M(value: str) -> Decimal:
    return Decimal(value)


def step(ds: DataSet, name: str, reached: int, conversion: float | None) -> FunnelStage:
    stage = ds.stages[name]
    return FunnelStage(stage.pk, stage.name, stage.kind, reached, conversion)


# --- funnel ------------------------------------------------------------------------------------


def test_funnel(engine_name: str, ds: DataSet) -> None:
    # Highest non-lost stage reached: D1 Won, D2 Qualified, D3 Won, D4 Lead, D5 Proposal,
    # D6 Negotiation, D7 Qualified, D8 Lead, D9 Lead; P1 Signed, P2 Intro.
    assert run(engine_name, "funnel", ds) == FunnelReport(
        pipelines=[
            FunnelPipeline(
                ds.sales.pk,
                "Sales",
                deals=9,
                lost=3,
                stages=[
                    step(ds, "Sales/Lead", 9, None),
                    step(ds, "Sales/Qualified", 6, 0.6667),
                    step(ds, "Sales/Proposal", 4, 0.6667),
                    step(ds, "Sales/Negotiation", 3, 0.75),
                    step(ds, "Sales/Won", 2, 0.6667),
                ],
            ),
            FunnelPipeline(
                ds.partners.pk,
                "Partners",
                deals=2,
                lost=0,
                stages=[step(ds, "Partners/Intro", 2, None), step(ds, "Partners/Signed", 1, 0.5)],
            ),
        ]
    )


def test_funnel_of_a_pipeline_and_owner(engine_name: str, ds: DataSet) -> None:
    # Alice's Sales deals: D1 Won, D2 Qualified (lost), D5 Proposal, D8 Lead (lost), D9 Lead.
    report = run(engine_name, "funnel", ds, pipeline_id=ds.sales.pk, owner_id=ds.alice.pk)
    assert report.pipelines == [
        FunnelPipeline(
            ds.sales.pk,
            "Sales",
            deals=5,
            lost=2,
            stages=[
                step(ds, "Sales/Lead", 5, None),
                step(ds, "Sales/Qualified", 3, 0.6),
                step(ds, "Sales/Proposal", 2, 0.6667),
                step(ds, "Sales/Negotiation", 1, 0.5),
                step(ds, "Sales/Won", 1, 1.0),
            ],
        )
    ]


def test_funnel_of_deals_created_in_january(engine_name: str, ds: DataSet) -> None:
    # D1, D2, D3, D4 (Sales) and P1, P2 (Partners) were created in January.
    report = run(engine_name, "funnel", ds, JAN)
    assert report.pipelines[0] == FunnelPipeline(
        ds.sales.pk,
        "Sales",
        deals=4,
        lost=2,
        stages=[
            step(ds, "Sales/Lead", 4, None),
            step(ds, "Sales/Qualified", 3, 0.75),
            step(ds, "Sales/Proposal", 2, 0.6667),
            step(ds, "Sales/Negotiation", 2, 1.0),
            step(ds, "Sales/Won", 2, 1.0),
        ],
    )
    assert (report.pipelines[1].deals, [s.reached for s in report.pipelines[1].stages]) == (2, [2, 1])


def test_funnel_in_one_currency(engine_name: str, ds: DataSet) -> None:
    # EUR: D1 Won, D3 Won, D5 Proposal, D6 Negotiation, D8 Lead (lost), D9 Lead; no EUR partner.
    report = run(engine_name, "funnel", ds, currency="EUR")
    assert [(s.reached, s.conversion) for s in report.pipelines[0].stages] == [
        (6, None),
        (4, 0.6667),
        (4, 1.0),
        (3, 0.75),
        (2, 0.6667),
    ]
    assert (report.pipelines[0].deals, report.pipelines[0].lost) == (6, 1)
    assert report.pipelines[1] == FunnelPipeline(
        ds.partners.pk,
        "Partners",
        deals=0,
        lost=0,
        stages=[step(ds, "Partners/Intro", 0, None), step(ds, "Partners/Signed", 0, None)],
    )


# --- velocity ----------------------------------------------------------------------------------


def stay(ds: DataSet, name: str, stays: int, median: float | None, p90: float | None) -> StageVelocity:
    stage = ds.stages[name]
    return StageVelocity(stage.pipeline_id, stage.pipeline.name, stage.pk, stage.name, stays, median, p90)


def test_velocity(engine_name: str, ds: DataSet) -> None:
    # Lead: D1 2, D2 2, D4 29, D5 2.5, D8 2 days -> median 2, p90 2.5 + 0.6 * 26.5 = 18.4.
    # Qualified: D3 4, D1 5, D2 7 -> 5 and 5 + 0.8 * 2 = 6.6. Proposal: D1 8, D3 20 -> 14 and
    # 8 + 0.9 * 12 = 18.8. Intro: P1 5. Won: P1 5, D1 15, D3 24 -> 15 and 15 + 0.8 * 9 = 22.2.
    assert run(engine_name, "velocity", ds) == VelocityReport(
        stages=[
            stay(ds, "Sales/Lead", 5, 2.0, 18.4),
            stay(ds, "Sales/Qualified", 3, 5.0, 6.6),
            stay(ds, "Sales/Proposal", 2, 14.0, 18.8),
            stay(ds, "Sales/Negotiation", 0, None, None),
            stay(ds, "Partners/Intro", 1, 5.0, 5.0),
        ],
        won_deals=3,
        won_median_days=15.0,
        won_p90_days=22.2,
    )


def test_velocity_of_deals_created_in_february(engine_name: str, ds: DataSet) -> None:
    # D5 (Lead 2.5 days), D6, D7, D8 (Lead 2 days): median 2.25, p90 2 + 0.9 * 0.5 = 2.45.
    report = run(engine_name, "velocity", ds, FEB, pipeline_id=ds.sales.pk)
    assert report == VelocityReport(
        stages=[
            stay(ds, "Sales/Lead", 2, 2.25, 2.45),
            stay(ds, "Sales/Qualified", 0, None, None),
            stay(ds, "Sales/Proposal", 0, None, None),
            stay(ds, "Sales/Negotiation", 0, None, None),
        ],
        won_deals=0,
        won_median_days=None,
        won_p90_days=None,
    )


# --- won and lost ------------------------------------------------------------------------------


def test_won_lost(engine_name: str, ds: DataSet) -> None:
    # Won: D1 EUR 1000 (01-20, Alice), P1 GBP 700 (01-25, Bob), D3 EUR 2000 (02-03, Bob).
    # Lost: D2 USD 500 (01-15, Alice, Price), D4 USD 300 (02-10, Bob, No budget),
    # D8 EUR 400 (02-11, Alice, Price).
    alice, bob = ds.alice.pk, ds.bob.pk
    assert run(engine_name, "won-lost", ds) == WonLostReport(
        won_count=3,
        lost_count=3,
        win_rate=0.5,
        totals=[
            OutcomeTotals("EUR", 2, M("3000.00"), 1, M("400.00")),
            OutcomeTotals("GBP", 1, M("700.00"), 0, M("0.00")),
            OutcomeTotals("USD", 0, M("0.00"), 2, M("800.00")),
        ],
        by_month=[
            MonthOutcome("2026-01", "EUR", 1, M("1000.00"), 0, M("0.00")),
            MonthOutcome("2026-01", "GBP", 1, M("700.00"), 0, M("0.00")),
            MonthOutcome("2026-01", "USD", 0, M("0.00"), 1, M("500.00")),
            MonthOutcome("2026-02", "EUR", 1, M("2000.00"), 1, M("400.00")),
            MonthOutcome("2026-02", "USD", 0, M("0.00"), 1, M("300.00")),
        ],
        by_owner=[
            OwnerOutcome(alice, "Alice Archer", "EUR", 1, M("1000.00"), 1, M("400.00")),
            OwnerOutcome(alice, "Alice Archer", "USD", 0, M("0.00"), 1, M("500.00")),
            OwnerOutcome(bob, "Bob Baker", "EUR", 1, M("2000.00"), 0, M("0.00")),
            OwnerOutcome(bob, "Bob Baker", "GBP", 1, M("700.00"), 0, M("0.00")),
            OwnerOutcome(bob, "Bob Baker", "USD", 0, M("0.00"), 1, M("300.00")),
        ],
        by_lost_reason=[
            LostReasonRow("No budget", "USD", 1, M("300.00")),
            LostReasonRow("Price", "EUR", 1, M("400.00")),
            LostReasonRow("Price", "USD", 1, M("500.00")),
        ],
    )


def test_won_lost_closed_in_february_in_sales(engine_name: str, ds: DataSet) -> None:
    # D3 won 02-03; D4 and D8 lost 02-10 and 02-11 (P1 is in Partners, the rest in January).
    report = run(engine_name, "won-lost", ds, FEB, pipeline_id=ds.sales.pk)
    assert (report.won_count, report.lost_count, report.win_rate) == (1, 2, 0.3333)
    assert report.totals == [
        OutcomeTotals("EUR", 1, M("2000.00"), 1, M("400.00")),
        OutcomeTotals("USD", 0, M("0.00"), 1, M("300.00")),
    ]
    assert report.by_lost_reason == [
        LostReasonRow("No budget", "USD", 1, M("300.00")),
        LostReasonRow("Price", "EUR", 1, M("400.00")),
    ]


def test_won_lost_with_nothing_closed(engine_name: str, ds: DataSet) -> None:
    report = run(engine_name, "won-lost", ds, MAR)
    assert report == WonLostReport(0, 0, None, [], [], [], [])


# --- forecast ----------------------------------------------------------------------------------


def test_forecast(engine_name: str, ds: DataSet) -> None:
    # Open: D5 EUR 800 at 50%, D6 EUR 1200 at 75% (March); P2 GBP 900 at 20% (March);
    # D7 USD 250.50 at 25% = 62.625, rounded half up (April); D9 EUR 100 at 10% (no date).
    assert run(engine_name, "forecast", ds) == ForecastReport(
        by_month=[
            ForecastRow("2026-03", "EUR", 2, M("2000.00"), M("1300.00")),
            ForecastRow("2026-03", "GBP", 1, M("900.00"), M("180.00")),
            ForecastRow("2026-04", "USD", 1, M("250.50"), M("62.63")),
            ForecastRow(None, "EUR", 1, M("100.00"), M("10.00")),
        ],
        totals=[
            ForecastTotals("EUR", 3, M("2100.00"), M("1310.00")),
            ForecastTotals("GBP", 1, M("900.00"), M("180.00")),
            ForecastTotals("USD", 1, M("250.50"), M("62.63")),
        ],
    )


def test_forecast_closing_in_march_in_euros(engine_name: str, ds: DataSet) -> None:
    report = run(engine_name, "forecast", ds, MAR, currency="EUR")
    assert report == ForecastReport(
        by_month=[ForecastRow("2026-03", "EUR", 2, M("2000.00"), M("1300.00"))],
        totals=[ForecastTotals("EUR", 2, M("2000.00"), M("1300.00"))],
    )


# --- activity ----------------------------------------------------------------------------------


def test_activity(engine_name: str, ds: DataSet) -> None:
    # Week of 01-05: Alice task + call, Bob task, a note without assignee; week of 01-12:
    # Alice meeting + note, Bob task + call. Overdue on 02-01: Alice's task due 01-09 (Bob's
    # first task is done, his second is due in March).
    alice, bob = ds.alice.pk, ds.bob.pk
    w1, w2 = datetime.date(2026, 1, 5), datetime.date(2026, 1, 12)
    assert run(engine_name, "activity", ds) == ActivityReport(
        overdue_tasks=1,
        by_week=[
            ActivityWeek(w1, alice, "Alice Archer", tasks=1, calls=1, meetings=0, notes=0),
            ActivityWeek(w1, bob, "Bob Baker", tasks=1, calls=0, meetings=0, notes=0),
            ActivityWeek(w1, None, "", tasks=0, calls=0, meetings=0, notes=1),
            ActivityWeek(w2, alice, "Alice Archer", tasks=0, calls=0, meetings=1, notes=1),
            ActivityWeek(w2, bob, "Bob Baker", tasks=1, calls=1, meetings=0, notes=0),
        ],
        by_owner=[
            ActivityOwner(alice, "Alice Archer", tasks=1, calls=1, meetings=1, notes=1),
            ActivityOwner(bob, "Bob Baker", tasks=2, calls=1, meetings=0, notes=0),
            ActivityOwner(None, "", tasks=0, calls=0, meetings=0, notes=1),
        ],
        overdue_by_owner=[OverdueOwner(alice, "Alice Archer", 1)],
    )


def test_activity_of_one_owner_in_one_week(engine_name: str, ds: DataSet) -> None:
    week = (datetime.date(2026, 1, 12), datetime.date(2026, 1, 18))
    report = run(engine_name, "activity", ds, week, owner_id=ds.bob.pk)
    assert report == ActivityReport(
        overdue_tasks=0,
        by_week=[ActivityWeek(datetime.date(2026, 1, 12), ds.bob.pk, "Bob Baker", 1, 1, 0, 0)],
        by_owner=[ActivityOwner(ds.bob.pk, "Bob Baker", 1, 1, 0, 0)],
        overdue_by_owner=[],
    )


# --- campaigns ---------------------------------------------------------------------------------


def test_campaigns(engine_name: str, ds: DataSet) -> None:
    # January: 3 accepted, 1 bounced, 1 failed after retries; 2 opened, 1 clicked, 1 left.
    # February: 1 accepted and opened, 1 queued, 1 skipped. The draft never started.
    january, february, draft = (ds.campaigns[n] for n in ("January", "February", "Draft"))
    assert run(engine_name, "campaigns", ds) == CampaignsReport(
        totals=CampaignTotals(sent=6, delivered=4, opened=3, clicked=1, unsubscribed=1, bounced=1, failed=1),
        campaigns=[
            CampaignRow(january.pk, "January news", "sent", at(1, 20, 10), 5, 3, 2, 1, 1, 1, 1),
            CampaignRow(february.pk, "February offer", "sending", at(2, 10, 10), 1, 1, 1, 0, 0, 0, 0),
            CampaignRow(draft.pk, "Spring draft", "draft", None, 0, 0, 0, 0, 0, 0, 0),
        ],
        by_day=[
            CampaignDay(
                datetime.date(2026, 1, 20), delivered=3, opened=1, clicked=0, unsubscribed=0, bounced=1
            ),
            CampaignDay(
                datetime.date(2026, 1, 21), delivered=0, opened=1, clicked=1, unsubscribed=1, bounced=0
            ),
            CampaignDay(
                datetime.date(2026, 2, 10), delivered=1, opened=1, clicked=0, unsubscribed=0, bounced=0
            ),
        ],
    )


def test_campaigns_started_in_february(engine_name: str, ds: DataSet) -> None:
    report = run(engine_name, "campaigns", ds, FEB)
    assert [row.campaign for row in report.campaigns] == ["February offer"]
    assert report.totals == CampaignTotals(1, 1, 1, 0, 0, 0, 0)
    assert [day.day for day in report.by_day] == [datetime.date(2026, 2, 10)]


def test_campaigns_of_one_creator(engine_name: str, ds: DataSet) -> None:
    report = run(engine_name, "campaigns", ds, owner_id=ds.alice.pk)
    assert [row.campaign for row in report.campaigns] == ["January news", "Spring draft"]
    assert report.totals == CampaignTotals(5, 3, 2, 1, 1, 1, 1)
    assert [day.day for day in report.by_day] == [datetime.date(2026, 1, 20), datetime.date(2026, 1, 21)]
