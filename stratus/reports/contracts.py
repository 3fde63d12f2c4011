"""The contract of every report: its filters, its output shape and the rules of its numbers.

An engine (see ``stratus.reports.engines``) takes a :class:`ReportFilters` and returns the
report's dataclass; the API renders that dataclass, and the conformance suite compares it with
exact expected values, so every engine answers the same question the same way. The rules an
engine must follow are stated here once:

- Times are grouped in UTC: a day, a week (starting on Monday) and a month are UTC ones, and a
  date range ``date_from``..``date_to`` holds every instant from ``date_from`` 00:00 UTC up to,
  not including, the day after ``date_to``.
- Money is never summed across currencies: every money figure sits in a row with its
  ``currency`` and is the exact sum of deal values in that currency (no conversion), as a
  :class:`~decimal.Decimal` with two places; a weighted value is the exact sum of
  ``value * probability`` divided by 100, then rounded half up to cents (:func:`cents`).
- Durations are in days (seconds / 86,400); a median and a 90th percentile are computed on the
  exact durations by linear interpolation between closest ranks (PostgreSQL's
  ``percentile_cont``, ClickHouse's ``quantileExactInclusive``), then rounded to two places
  (:func:`days`).
- Ratios (conversion, win rate) are rounded to four places (:func:`ratio`); None when the
  denominator is zero.
- Rows come in a stated order, so two engines' answers compare equal as they are.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

CENT = decimal.Decimal("0.01")
SECONDS_PER_DAY = 86_400

# The filters a report may take (each report names the ones it accepts).
DATE_FROM, DATE_TO, PIPELINE, OWNER, CURRENCY = "date_from", "date_to", "pipeline", "owner", "currency"
ALL_FILTERS = (DATE_FROM, DATE_TO, PIPELINE, OWNER, CURRENCY)


@dataclass(frozen=True)
class ReportFilters:
    """The inputs of every report: the organization (always) and the optional filters.

    ``pipeline_id`` and ``owner_id`` have been checked to belong to the organization by the
    caller. ``as_of`` is "now" for the figures that depend on it (overdue tasks).
    """

    organization_id: int
    as_of: datetime.datetime
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    pipeline_id: int | None = None
    owner_id: int | None = None
    currency: str | None = None

    def window(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """The date range as instants: [start, end) in UTC; None where open."""
        start = end = None
        if self.date_from is not None:
            start = datetime.datetime.combine(self.date_from, datetime.time(), tzinfo=datetime.UTC)
        if self.date_to is not None:
            end = datetime.datetime.combine(
                self.date_to + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
            )
        return start, end


# --- rounding rules shared by every engine ---------------------------------------------------------


def cents(value: decimal.Decimal | int | None) -> decimal.Decimal:
    """A money figure: two places, rounded half up."""
    return decimal.Decimal(value or 0).quantize(CENT, rounding=decimal.ROUND_HALF_UP)


def weighted(value_times_probability: decimal.Decimal | int | None) -> decimal.Decimal:
    """A probability-weighted value from the exact sum of ``value * probability`` (percent)."""
    return cents(decimal.Decimal(value_times_probability or 0) / 100)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / SECONDS_PER_DAY, 2)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile by linear interpolation between closest ranks (R-7)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def month_label(moment: datetime.date | None) -> str | None:
    return None if moment is None else f"{moment.year:04d}-{moment.month:02d}"


# --- pipeline funnel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage:
    stage_id: int
    stage: str
    kind: str
    reached: int  # deals that were in this stage or a later (non-lost) one
    conversion: float | None  # reached here / reached at the previous step


@dataclass(frozen=True)
class FunnelPipeline:
    pipeline_id: int
    pipeline: str
    deals: int  # deals of the cohort in this pipeline
    lost: int  # of them, in a lost stage now
    stages: list[FunnelStage]


@dataclass(frozen=True)
class FunnelReport:
    pipelines: list[FunnelPipeline]


# --- velocity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageVelocity:
    pipeline_id: int
    pipeline: str
    stage_id: int
    stage: str
    stays: int  # completed stays (the deal entered and later left the stage)
    median_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class VelocityReport:
    stages: list[StageVelocity]
    won_deals: int
    won_median_days: float | None  # creation to won
    won_p90_days: float | None


# --- won and lost ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeTotals:
    currency: str
    won_count: int
    won_value: decimal.Decimal
    lost_count: int
    lost_value: decimal.Decimal


@dataclass(frozen=True)
class MonthOutcome:
    month: str
    currency: str
    won_count: int
    won_value: decimal.Decimal
    lost_count: int
    lost_value: decimal.Decimal


@dataclass(frozen=True)
class OwnerOutcome:
    owner_id: int | None
    owner: str
    currency: str
    won_count: int
    won_value: decimal.Decimal
    lost_count: int
    lost_value: decimal.Decimal


@dataclass(frozen=True)
class LostReasonRow:
    lost_reason: str
    currency: str
    count: int
    value: decimal.Decimal


@dataclass(frozen=True)
class WonLostReport:
    won_count: int
    lost_count: int
    win_rate: float | None  # won / (won + lost), by count
    totals: list[OutcomeTotals]
    by_month: list[MonthOutcome]
    by_owner: list[OwnerOutcome]
    by_lost_reason: list[LostReasonRow]


# --- forecast ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastRow:
    month: str | None  # expected close month; None for deals without a date
    currency: str
    deals: int
    open_value: decimal.Decimal
    weighted_value: decimal.Decimal


@dataclass(frozen=True)
class ForecastTotals:
    currency: str
    deals: int
    open_value: decimal.Decimal
    weighted_value: decimal.Decimal


@dataclass(frozen=True)
class ForecastReport:
    by_month: list[ForecastRow]
    totals: list[ForecastTotals]


# --- activity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityWeek:
    week: datetime.date  # the Monday
    owner_id: int | None
    owner: str
    tasks: int
    calls: int
    meetings: int
    notes: int


@dataclass(frozen=True)
class ActivityOwner:
    owner_id: int | None
    owner: str
    tasks: int
    calls: int
    meetings: int
    notes: int


@dataclass(frozen=True)
class OverdueOwner:
    owner_id: int | None
    owner: str
    overdue_tasks: int


@dataclass(frozen=True)
class ActivityReport:
    overdue_tasks: int
    by_week: list[ActivityWeek]
    by_owner: list[ActivityOwner]
    overdue_by_owner: list[OverdueOwner]


# --- campaigns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    campaign_id: int
    campaign: str
    state: str
    started_at: datetime.datetime | None
    sent: int  # sending finished: delivered + bounced + failed
    delivered: int  # accepted by the mail server
    opened: int  # recipients who opened at least once
    clicked: int
    unsubscribed: int
    bounced: int  # the address was refused (and is now suppressed)
    failed: int  # given up for another reason


@dataclass(frozen=True)
class CampaignTotals:
    sent: int
    delivered: int
    opened: int
    clicked: int
    unsubscribed: int
    bounced: int
    failed: int


@dataclass(frozen=True)
class CampaignDay:
    day: datetime.date
    delivered: int
    opened: int
    clicked: int
    unsubscribed: int
    bounced: int


@dataclass(frozen=True)
class CampaignsReport:
    totals: CampaignTotals
    campaigns: list[CampaignRow]
    by_day: list[CampaignDay]


# --- the registry of contracts -------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContract:
    name: str
    title: str
    result: type
    filters: tuple[str, ...]
    description: str


def _contract(
    name: str, title: str, result: type, filters: tuple[str, ...], description: str
) -> ReportContract:
    return ReportContract(name, title, result, filters, " ".join(description.split()))


REPORTS: dict[str, ReportContract] = {
    contract.name: contract
    for contract in (
        _contract(
            "funnel",
            "Pipeline funnel",
            FunnelReport,
            ALL_FILTERS,
            """Deals created in the date range, per pipeline: for each stage that is not a lost
            stage, how many reached it (were in it, or in a later stage of the pipeline, at any
            time, by their stage history), and the conversion from the previous stage.""",
        ),
        _contract(
            "velocity",
            "Velocity",
            VelocityReport,
            ALL_FILTERS,
            """Deals created in the date range: median and 90th percentile of the days they
            spent in each open stage (completed stays only), and of the days from creation to
            won for those now won.""",
        ),
        _contract(
            "won-lost",
            "Won and lost",
            WonLostReport,
            ALL_FILTERS,
            """Deals now won or lost and closed in the date range: count and value per
            currency, by close month, by owner and by lost reason; win rate by count.""",
        ),
        _contract(
            "forecast",
            "Forecast",
            ForecastReport,
            ALL_FILTERS,
            """Open deals, by expected close month (in the date range when one is given;
            deals without a date only when none is): count, open value and value weighted by
            their stage's probability, per currency.""",
        ),
        _contract(
            "activity",
            "Activity",
            ActivityReport,
            (DATE_FROM, DATE_TO, OWNER),
            """Tasks, calls, meetings and notes created in the date range, by assignee and
            week; open tasks due before now (overdue, whatever the date range), by assignee.""",
        ),
        _contract(
            "campaigns",
            "Campaigns",
            CampaignsReport,
            (DATE_FROM, DATE_TO, OWNER),
            """Campaigns started in the date range (every campaign when none is given; owner is
            the campaign's creator): sent, delivered, opened, clicked, unsubscribed, bounced
            and failed recipients per campaign, and the dated events of those campaigns by
            day.""",
        ),
    )
}


# --- flat tables (CSV) ---------------------------------------------------------------------------


def _scalars(row: Any) -> dict[str, Any]:
    return {
        f.name: getattr(row, f.name) for f in dataclasses.fields(row) if not _is_nested(getattr(row, f.name))
    }


def _is_nested(value: Any) -> bool:
    return isinstance(value, list) or dataclasses.is_dataclass(value)


def _rows(value: Any, inherited: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A row per leaf: nested lists are expanded, each child carrying its parents' columns."""
    nested = [f.name for f in dataclasses.fields(value) if isinstance(getattr(value, f.name), list)]
    own = {**inherited, **_scalars(value)}
    if not any(getattr(value, name) for name in nested):
        yield own  # a parent without children keeps its row
        return
    for name in nested:
        for child in getattr(value, name):
            yield from _rows(child, own)


def flat_table(report: Any) -> tuple[list[str], list[list[Any]]]:
    """A report as one table: a ``table`` column names the part (``summary`` for the report's
    own figures, else the list it comes from), then the union of the parts' columns."""
    parts: list[tuple[str, dict[str, Any]]] = []
    summary = _scalars(report)
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if dataclasses.is_dataclass(value):
            summary.update(_scalars(value))
    if summary:
        parts.append(("summary", summary))
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if isinstance(value, list):
            parts.extend((field.name, row) for item in value for row in _rows(item, {}))
    header: list[str] = []
    for _, row in parts:
        header.extend(name for name in row if name not in header)
    rows = [[table, *(row.get(name) for name in header)] for table, row in parts]
    return ["table", *header], rows
