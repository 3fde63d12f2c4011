"""The dashboard's charts, built from the reports module's results (no query of their own).

Each chart is a :class:`Chart`: what the TypeScript module draws (labels, datasets, the link of
each bar) and what the page's table view shows, the same numbers. Every bar links to the list of
the records it counts, with the list filters that select exactly them (the report's filters, and
the bar's month, week or stage), so the list's count is the bar's number.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from stratus.reports.contracts import (
    ActivityReport,
    ForecastReport,
    FunnelReport,
    ReportFilters,
    WonLostReport,
)


@dataclass
class Dataset:
    label: str
    data: list[float | int | None] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)


@dataclass
class Chart:
    """One canvas: ``kind`` is ``bar``; ``horizontal`` lays bars sideways; ``stacked`` piles the
    datasets; ``money`` says the values are amounts in ``currency``."""

    id: str
    title: str
    labels: list[str]
    datasets: list[Dataset]
    horizontal: bool = False
    stacked: bool = False
    currency: str = ""
    # Money charts: the number of deals behind each label (the count the linked list shows).
    counts: list[int] | None = None

    def rows(
        self,
    ) -> list[tuple[str, tuple[int, str | None] | None, list[tuple[float | int | None, str | None]]]]:
        """The table view: a row per label, its deals (count, link) on money charts, and a
        (value, link) cell per dataset."""
        return [
            (
                label,
                None if self.counts is None else (self.counts[i], self.datasets[0].links[i]),
                [(d.data[i], d.links[i]) for d in self.datasets],
            )
            for i, label in enumerate(self.labels)
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "labels": self.labels,
            "horizontal": self.horizontal,
            "stacked": self.stacked,
            "currency": self.currency,
            "counts": self.counts,
            "datasets": [{"label": d.label, "data": d.data, "links": d.links} for d in self.datasets],
        }


@functools.cache
def _path(name: str) -> str:
    return reverse(name)


def _url(name: str, params: Iterable[tuple[str, Any]]) -> str:
    query = [(key, value) for key, value in params if value not in (None, "")]
    return f"{_path(name)}?{urlencode(query)}"


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _clip(
    start: datetime.date, end: datetime.date, filters: ReportFilters
) -> tuple[datetime.date, datetime.date]:
    """A month's or week's days within the report's date range."""
    if filters.date_from is not None and filters.date_from > start:
        start = filters.date_from
    if filters.date_to is not None and filters.date_to < end:
        end = filters.date_to
    return start, end


def _month_days(label: str) -> tuple[datetime.date, datetime.date]:
    year, month = (int(part) for part in label.split("-"))
    return datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1])


def _money(value: decimal.Decimal) -> float:
    return float(value)


# --- the charts --------------------------------------------------------------------------------


def funnel_charts(report: FunnelReport, filters: ReportFilters) -> list[Chart]:
    """A chart per pipeline: deals that reached each stage; a bar opens those deals."""
    charts = []
    for pipeline in report.pipelines:
        reached = Dataset(_("Deals that reached the stage"))
        for stage in pipeline.stages:
            reached.data.append(stage.reached)
            reached.links.append(
                _url(
                    "web:list-deals",
                    [
                        ("pipeline", pipeline.pipeline_id),
                        ("reached_stage", stage.stage_id),
                        ("created_after", _day(filters.date_from)),
                        ("created_before", _day(filters.date_to)),
                        ("owner", filters.owner_id),
                        ("currency", filters.currency),
                    ],
                )
            )
        charts.append(
            Chart(
                id=f"funnel-{pipeline.pipeline_id}",
                title=_("Funnel of %(pipeline)s") % {"pipeline": pipeline.pipeline},
                labels=[stage.stage for stage in pipeline.stages],
                datasets=[reached],
                horizontal=True,
            )
        )
    return charts


def _deal_scope(filters: ReportFilters, currency: str) -> list[tuple[str, Any]]:
    return [("pipeline", filters.pipeline_id), ("owner", filters.owner_id), ("currency", currency)]


def _currencies(rows: Iterable[Any]) -> list[str]:
    return sorted({row.currency for row in rows})


def won_charts(report: WonLostReport, filters: ReportFilters) -> list[Chart]:
    """A chart per currency: value won by close month; a bar opens the deals won that month."""
    charts = []
    for currency in _currencies(report.by_month):
        rows = [row for row in report.by_month if row.currency == currency and row.won_count]
        if not rows:
            continue
        won = Dataset(_("Won value"))
        for row in rows:
            start, end = _clip(*_month_days(row.month), filters)
            won.data.append(_money(row.won_value))
            won.links.append(
                _url(
                    "web:list-deals",
                    [
                        ("status", "won"),
                        ("closed_after", _day(start)),
                        ("closed_before", _day(end)),
                        *_deal_scope(filters, currency),
                    ],
                )
            )
        charts.append(
            Chart(
                id=f"won-{currency}",
                title=_("Won value by month, %(currency)s") % {"currency": currency},
                labels=[row.month for row in rows],
                datasets=[won],
                currency=currency,
                counts=[row.won_count for row in rows],
            )
        )
    return charts


def forecast_charts(report: ForecastReport, filters: ReportFilters) -> list[Chart]:
    """A chart per currency: open and weighted value by expected close month; a bar opens the
    open deals expected to close that month (or without a date)."""
    charts = []
    for currency in _currencies(report.by_month):
        rows = [row for row in report.by_month if row.currency == currency]
        open_value, weighted = Dataset(_("Open value")), Dataset(_("Weighted value"))
        labels = []
        for row in rows:
            if row.month is None:
                labels.append(_("No date"))
                dates: list[tuple[str, Any]] = [("has_expected_close", "false")]
            else:
                labels.append(row.month)
                start, end = _clip(*_month_days(row.month), filters)
                dates = [("expected_close_after", _day(start)), ("expected_close_before", _day(end))]
            link = _url("web:list-deals", [("status", "open"), *dates, *_deal_scope(filters, currency)])
            open_value.data.append(_money(row.open_value))
            weighted.data.append(_money(row.weighted_value))
            open_value.links.append(link)
            weighted.links.append(link)
        charts.append(
            Chart(
                id=f"forecast-{currency}",
                title=_("Forecast by expected close month, %(currency)s") % {"currency": currency},
                labels=labels,
                datasets=[open_value, weighted],
                currency=currency,
                counts=[row.deals for row in rows],
            )
        )
    return charts


def overdue_url(owner_id: int | None) -> str:
    return _url(
        "web:list-activities",
        [("kind", "task"), ("overdue", "true"), ("assignee", "none" if owner_id is None else owner_id)],
    )


def _activities_url(
    filters: ReportFilters, start: datetime.date | None, end: datetime.date | None, **more: Any
) -> str:
    return _url(
        "web:list-activities",
        [*more.items(), ("created_after", _day(start)), ("created_before", _day(end))],
    )


KINDS = (("tasks", "task"), ("calls", "call"), ("meetings", "meeting"), ("notes", "note"))


def activity_charts(report: ActivityReport, filters: ReportFilters) -> list[Chart]:
    """Activities by assignee (a bar per kind: it opens that person's activities of that kind)
    and by week (a bar opens the week's activities)."""
    if not report.by_owner:
        return []
    names = {"task": _("Tasks"), "call": _("Calls"), "meeting": _("Meetings"), "note": _("Notes")}
    by_kind = []
    for column, kind in KINDS:
        dataset = Dataset(names[kind])
        for row in report.by_owner:
            count = getattr(row, column)
            assignee = "none" if row.owner_id is None else row.owner_id
            dataset.data.append(count)
            dataset.links.append(
                _activities_url(filters, filters.date_from, filters.date_to, assignee=assignee, kind=kind)
                if count
                else None
            )
        by_kind.append(dataset)
    weekly: dict[datetime.date, int] = {}
    for line in report.by_week:
        weekly[line.week] = weekly.get(line.week, 0) + line.tasks + line.calls + line.meetings + line.notes
    week = Dataset(_("Activities"))
    for monday, count in sorted(weekly.items()):
        start, end = _clip(monday, monday + datetime.timedelta(days=6), filters)
        week.data.append(count)
        week.links.append(_activities_url(filters, start, end))
    return [
        Chart(
            id="activity-owner",
            title=_("Activities by assignee"),
            labels=[row.owner or _("No one") for row in report.by_owner],
            datasets=by_kind,
            horizontal=True,
            stacked=True,
        ),
        Chart(
            id="activity-week",
            title=_("Activities by week"),
            labels=[monday.isoformat() for monday in sorted(weekly)],
            datasets=[week],
        ),
    ]
