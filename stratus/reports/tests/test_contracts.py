"""The rules every engine shares: rounding, percentiles, the flat CSV table, the engine registry."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from stratus.reports import engines
from stratus.reports.contracts import (
    REPORTS,
    FunnelPipeline,
    FunnelReport,
    FunnelStage,
    ReportFilters,
    cents,
    days,
    flat_table,
    percentile,
    ratio,
    weighted,
)


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([10.0, 20.0], 0.9) == 19.0


def test_money_rounds_half_up_to_cents() -> None:
    assert weighted(Decimal("6262.50")) == Decimal("62.63")  # 250.50 at 25%
    assert weighted(Decimal("6262.49")) == Decimal("62.62")
    assert cents(None) == Decimal("0.00")
    assert (ratio(2, 3), ratio(1, 0)) == (0.6667, None)
    assert days(129_600) == 1.5


def test_a_date_range_is_whole_utc_days() -> None:
    filters = ReportFilters(
        organization_id=1,
        as_of=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC),
        date_from=datetime.date(2026, 1, 1),
        date_to=datetime.date(2026, 1, 31),
    )
    assert filters.window() == (
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC),
    )


def test_the_flat_table_expands_nested_rows_with_their_parents_columns() -> None:
    report = FunnelReport(
        pipelines=[
            FunnelPipeline(
                1,
                "Sales",
                3,
                1,
                [FunnelStage(10, "Lead", "open", 3, None), FunnelStage(11, "Won", "won", 1, 0.3333)],
            ),
            FunnelPipeline(2, "Empty", 0, 0, []),
        ]
    )
    header, rows = flat_table(report)
    assert header == [
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
    assert rows == [
        ["pipelines", 1, "Sales", 3, 1, 10, "Lead", "open", 3, None],
        ["pipelines", 1, "Sales", 3, 1, 11, "Won", "won", 1, 0.3333],
        ["pipelines", 2, "Empty", 0, 0, None, None, None, None, None],
    ]


def test_every_report_has_a_method_on_every_engine() -> None:
    for name in engines.engine_names():
        engine = engines.get_engine(name)
        for report in REPORTS:
            assert callable(getattr(engine, report.replace("-", "_"))), (name, report)


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(LookupError, match="unknown report engine 'nope'; known: clickhouse, database"):
        engines.get_engine("nope")
