"""The reports computed by the primary database (PostgreSQL, or SQLite in the embedded default).

Each report runs a fixed number of queries whatever the number of rows: counts and sums are
grouped in the database. The funnel and velocity read the stage history from two summaries:
the deals' reach (``crm.DealReach``: per deal its filter columns and the stages it stayed in,
kept by triggers on the deals), and the deal stays (``crm.DealStay``: one row per stay of a
deal in a stage, the replay of its ``moved`` timeline entries, kept by the deal services in the
transaction of each change, with its deal's filter columns that the same triggers keep and its
duration). The funnel is one portable statement on the reach; the velocity's percentiles are
``percentile_cont`` on PostgreSQL (linear interpolation between closest ranks, as
``contracts.percentile``) and ``contracts.percentile`` over the stays' durations elsewhere
(SQLite); won and lost is one statement with grouping sets on PostgreSQL, three elsewhere. The
conformance suite runs on both. The indexes these statements read on PostgreSQL are in crm
0006, 0007 and 0009 and campaigns 0002 (``bench/results/2026-12-06-reports-1M.md``,
``bench/results/2026-12-06-reports-summaries-busy.md``).
"""

from __future__ import annotations

import datetime
import decimal
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Lower, TruncDate, TruncMonth, TruncWeek

from stratus.accounts.models import User
from stratus.campaigns.models import (
    Campaign,
    CampaignStateCount,
    Recipient,
    RecipientState,
    Suppression,
    SuppressionReason,
)
from stratus.campaigns.models import CampaignDay as CampaignEvents
from stratus.crm.models import (
    Activity,
    ActivityDay,
    ActivityKind,
    Deal,
    DealReach,
    Pipeline,
    Stage,
    StageKind,
)
from stratus.crm.reach import stage_ids
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
    cents,
    days,
    month_label,
    percentile,
    ratio,
    weighted,
)

UTC = datetime.UTC
ZERO = decimal.Decimal(0)


def _owner_label(full_name: str | None, email: str | None) -> str:
    return full_name or email or ""


def _owner_key(owner_id: int | None) -> tuple[bool, int]:
    """Owners in id order, deals without an owner last."""
    return (owner_id is None, owner_id or 0)


def _within(rows: QuerySet[Any], field: str, filters: ReportFilters) -> QuerySet[Any]:
    start, end = filters.window()
    if start is not None:
        rows = rows.filter(**{f"{field}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{field}__lt": end})
    return rows


def _deals(filters: ReportFilters) -> QuerySet[Deal]:
    deals = Deal.objects.filter(organization_id=filters.organization_id)
    if filters.pipeline_id is not None:
        deals = deals.filter(pipeline_id=filters.pipeline_id)
    if filters.owner_id is not None:
        deals = deals.filter(owner_id=filters.owner_id)
    if filters.currency is not None:
        deals = deals.filter(currency=filters.currency)
    return deals


def _pipelines(filters: ReportFilters) -> list[dict[str, Any]]:
    pipelines = Pipeline.objects.filter(organization_id=filters.organization_id)
    if filters.pipeline_id is not None:
        pipelines = pipelines.filter(pk=filters.pipeline_id)
    return [dict(row) for row in pipelines.order_by("position", "pk").values("pk", "name")]


def _stages(filters: ReportFilters) -> dict[int, list[dict[str, Any]]]:
    stages = Stage.objects.filter(organization_id=filters.organization_id)
    if filters.pipeline_id is not None:
        stages = stages.filter(pipeline_id=filters.pipeline_id)
    by_pipeline: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for stage in stages.order_by("pipeline_id", "position").values(
        "pk", "pipeline_id", "name", "kind", "position"
    ):
        by_pipeline[stage["pipeline_id"]].append(dict(stage))
    return by_pipeline


# --- the stage history: the deal stays and the deals' reach -------------------------------------
#
# The funnel reads the deals' reach (``crm.DealReach``, kept by triggers on the deals): one row per
# deal with the deal's filter columns and the stages its stays are in, grouped by pipeline,
# current stage and stages reached (a few dozen groups); a group's highest stage and whether it
# is lost are then read from the stages as they are now. One statement, no join.
#
# The velocity reads the cohort's deals (created in the date range) with their stays
# (``crm.DealStay``, the replay of each deal's ``moved`` timeline entries that the deal services
# keep), joined by deal and by the deal's creation (the stays' index leads with it).

# The velocity on PostgreSQL: the ended stays' durations by stage, and creation to won, with
# ``percentile_cont`` (linear interpolation between closest ranks, as ``contracts.percentile``).
# The stays carry their deal's creation, pipeline, owner and currency and their duration, and
# the deals' reach its closing: each part reads one covering index, no join (crm 0009).
_VELOCITY_SQL = """
SELECT stage_id, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)
FROM crm_dealstay
WHERE organization_id = %s AND left_at IS NOT NULL{stays}
GROUP BY 1
UNION ALL
SELECT NULL, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds)
FROM (
    SELECT extract(epoch FROM closed_at - created_at)::float8 AS seconds FROM crm_dealreach
    WHERE organization_id = %s AND closed_at IS NOT NULL{deals}
      AND stage_id IN (SELECT id FROM crm_stage WHERE organization_id = %s AND kind = %s)
) won
"""

# Elsewhere (SQLite): the ended stays' durations, the percentiles computed in Python.
_DURATIONS_SQL = """
SELECT stage_id, seconds FROM crm_dealstay WHERE organization_id = %s AND left_at IS NOT NULL{stays}
"""


def _velocity_where(filters: ReportFilters, created: str) -> tuple[str, list[Any]]:
    """The filters on the stays or the reach: the deal's creation in the range, its pipeline,
    owner and currency (the columns both carry)."""
    start, end = filters.window()
    where, params = "", []
    for clause, value in (
        (f" AND {created} >= %s", None if start is None else connection.ops.adapt_datetimefield_value(start)),
        (f" AND {created} < %s", None if end is None else connection.ops.adapt_datetimefield_value(end)),
        (" AND pipeline_id = %s", filters.pipeline_id),
        (" AND owner_id = %s", filters.owner_id),
        (" AND currency = %s", filters.currency),
    ):
        if value is not None:
            where += clause
            params.append(value)
    return where, params


# The funnel, velocity and won-lost aggregate 10^4..10^5 rows in one statement: compiling it
# (JIT, on by default) took longer than running it at 1M rows, and sorts and hashes of that
# size spilled to disk with the default work_mem (4 MB). No parallel workers: the reports are
# served to many users at once on few cores, where a worker adds its start and its share of the
# work to the CPU a request costs without giving the users more (and its CPU is not that of the
# request's connection). The other reports' statements are cheap enough to stay under the JIT
# threshold.
_PLANNER_SQL = (
    "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)


def _in_database() -> bool:
    return connection.vendor == "postgresql"


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _tuned(method: _Method) -> _Method:
    """On PostgreSQL, run the report in a transaction with the planner settings it needs."""

    @functools.wraps(method)
    def run(self: Any, filters: ReportFilters) -> Any:
        if not _in_database():
            return method(self, filters)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_PLANNER_SQL)
            return method(self, filters)

    return run  # type: ignore[return-value]


# Won and lost on PostgreSQL: one statement, one read of the closed deals' covering index
# (crm 0006 ``crm_deal_report_closed``), grouped three ways at once (by month, by owner, by lost
# reason; each with currency and stage). Elsewhere (SQLite): one grouped statement each.
_WON_LOST_SQL = """
SELECT GROUPING(date_trunc('month', d.closed_at AT TIME ZONE 'UTC'), d.owner_id, d.lost_reason),
       date_trunc('month', d.closed_at AT TIME ZONE 'UTC'), d.owner_id, d.lost_reason, d.currency,
       d.stage_id, count(*), sum(d.value)
FROM crm_deal d
WHERE d.organization_id = %s AND d.closed_at IS NOT NULL{where}
  AND d.stage_id IN (SELECT st.id FROM crm_stage st WHERE st.organization_id = %s AND st.kind IN (%s, %s))
GROUP BY GROUPING SETS (
    (date_trunc('month', d.closed_at AT TIME ZONE 'UTC'), d.currency, d.stage_id),
    (d.owner_id, d.currency, d.stage_id),
    (d.lost_reason, d.currency, d.stage_id)
)
"""

# GROUPING(month, owner, reason): the bits of the columns not grouped (month is the highest).
_BY_MONTH, _BY_OWNER, _BY_REASON = 0b011, 0b101, 0b110

Rows = list[dict[str, Any]]


def _won_lost_grouped(filters: ReportFilters) -> tuple[Rows, Rows, Rows]:
    where, params = "", []
    start, end = filters.window()
    for clause, value in (
        (" AND d.closed_at >= %s", start),
        (" AND d.closed_at < %s", end),
        (" AND d.pipeline_id = %s", filters.pipeline_id),
        (" AND d.owner_id = %s", filters.owner_id),
        (" AND d.currency = %s", filters.currency),
    ):
        if value is not None:
            where += clause
            params.append(value)
    kinds = dict(
        Stage.objects.filter(
            organization_id=filters.organization_id, kind__in=(StageKind.WON, StageKind.LOST)
        ).values_list("pk", "kind")
    )
    months: Rows = []
    owners: Rows = []
    reasons: Rows = []
    with connection.cursor() as cursor:
        cursor.execute(
            _WON_LOST_SQL.format(where=where),
            (filters.organization_id, *params, filters.organization_id, StageKind.WON, StageKind.LOST),
        )
        for grouping, month, owner_id, reason, currency, stage_id, count, value in cursor.fetchall():
            kind = kinds.get(stage_id)
            if kind is None:  # (a stage deleted between the two statements: none holds deals)
                continue
            row = {"currency": currency, "stage__kind": kind, "count": count, "value": value}
            if grouping == _BY_MONTH:
                months.append({**row, "month": month})
            elif grouping == _BY_OWNER:
                owners.append({**row, "owner_id": owner_id})
            elif grouping == _BY_REASON and kind == StageKind.LOST:
                reasons.append({**row, "lost_reason": reason})
    # the lost reasons' rows by (reason, currency), the stages of a pipeline added up
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in reasons:
        key = (row["lost_reason"], row["currency"])
        if key in merged:
            merged[key]["count"] += row["count"]
            merged[key]["value"] = (merged[key]["value"] or ZERO) + (row["value"] or ZERO)
        else:
            merged[key] = dict(row)
    return months, owners, list(merged.values())


def _won_lost_queries(filters: ReportFilters) -> tuple[Rows, Rows, Rows]:
    closed = _within(
        _deals(filters).filter(stage__kind__in=(StageKind.WON, StageKind.LOST), closed_at__isnull=False),
        "closed_at",
        filters,
    )
    measures = {"count": Count("pk"), "value": Sum("value")}
    months = (
        closed.annotate(month=TruncMonth("closed_at", tzinfo=UTC))
        .values("month", "currency", "stage__kind")
        .annotate(**measures)
    )
    owners = closed.values("owner_id", "currency", "stage__kind").annotate(**measures)
    reasons = closed.filter(stage__kind=StageKind.LOST).values("lost_reason", "currency").annotate(**measures)
    return list(months), list(owners), list(reasons)


def _no_activity() -> dict[str, int]:
    return {"tasks": 0, "calls": 0, "meetings": 0, "notes": 0}


class DatabaseEngine:
    name = "database"

    # --- funnel ------------------------------------------------------------------------------

    @_tuned
    def funnel(self, filters: ReportFilters) -> FunnelReport:
        reach = _within(
            DealReach.objects.filter(organization_id=filters.organization_id), "created_at", filters
        )
        if filters.pipeline_id is not None:
            reach = reach.filter(pipeline_id=filters.pipeline_id)
        if filters.owner_id is not None:
            reach = reach.filter(owner_id=filters.owner_id)
        if filters.currency is not None:
            reach = reach.filter(currency=filters.currency)
        groups = reach.values_list("pipeline_id", "stage_id", "reached").annotate(count=Count("*")).order_by()
        every = {
            stage["pk"]: stage
            for stage in Stage.objects.filter(organization_id=filters.organization_id).values(
                "pk", "pipeline_id", "kind", "position"
            )
        }
        # pipeline -> {highest non-lost position a deal reached (-1: none): deals}
        tops: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        lost: dict[int, int] = defaultdict(int)
        for pipeline_id, stage_id, reached, count in groups:
            positions = [
                every[pk]["position"]
                for pk in stage_ids(reached)
                if pk in every
                and every[pk]["pipeline_id"] == pipeline_id
                and every[pk]["kind"] != StageKind.LOST
            ]
            tops[pipeline_id][max(positions, default=-1)] += count
            if stage_id in every and every[stage_id]["kind"] == StageKind.LOST:
                lost[pipeline_id] += count
        stages = _stages(filters)
        pipelines = []
        for pipeline in _pipelines(filters):
            counts = tops.get(pipeline["pk"], {})
            steps: list[FunnelStage] = []
            previous: int | None = None
            for stage in stages.get(pipeline["pk"], []):
                if stage["kind"] == StageKind.LOST:
                    continue
                count = sum(n for value, n in counts.items() if value >= stage["position"])
                conversion = None if previous is None else ratio(count, previous)
                steps.append(FunnelStage(stage["pk"], stage["name"], stage["kind"], count, conversion))
                previous = count
            pipelines.append(
                FunnelPipeline(
                    pipeline["pk"], pipeline["name"], sum(counts.values()), lost.get(pipeline["pk"], 0), steps
                )
            )
        return FunnelReport(pipelines=pipelines)

    # --- velocity ----------------------------------------------------------------------------

    @_tuned
    def velocity(self, filters: ReportFilters) -> VelocityReport:
        # stage id (None: creation to won) -> (stays, median seconds, p90 seconds)
        spent: dict[int | None, tuple[int, float | None, float | None]] = {}
        stay_where, stay_params = _velocity_where(filters, "deal_created_at")
        if _in_database():
            deals, deal_params = _velocity_where(filters, "created_at")
            with connection.cursor() as cursor:
                cursor.execute(
                    _VELOCITY_SQL.format(stays=stay_where, deals=deals),
                    (
                        filters.organization_id,
                        *stay_params,
                        filters.organization_id,
                        *deal_params,
                        filters.organization_id,
                        StageKind.WON,
                    ),
                )
                for stage_id, count, median, p90 in cursor.fetchall():
                    spent[stage_id] = (count, median, p90)
        else:
            durations: dict[int | None, list[float]] = defaultdict(list)
            with connection.cursor() as cursor:
                cursor.execute(
                    _DURATIONS_SQL.format(stays=stay_where), (filters.organization_id, *stay_params)
                )
                for stage_id, seconds in cursor.fetchall():
                    durations[stage_id].append(seconds)
            closed_won = _within(_deals(filters), "created_at", filters).filter(
                stage__kind=StageKind.WON, closed_at__isnull=False
            )
            for created, closed in closed_won.values_list("created_at", "closed_at"):
                durations[None].append((closed - created).total_seconds())
            spent = {
                key: (len(values), percentile(values, 0.5), percentile(values, 0.9))
                for key, values in durations.items()
            }
        stages = _stages(filters)
        rows = []
        for pipeline in _pipelines(filters):
            for stage in stages.get(pipeline["pk"], []):
                if stage["kind"] != StageKind.OPEN:
                    continue
                stays, median, p90 = spent.get(stage["pk"], (0, None, None))
                rows.append(
                    StageVelocity(
                        pipeline_id=pipeline["pk"],
                        pipeline=pipeline["name"],
                        stage_id=stage["pk"],
                        stage=stage["name"],
                        stays=stays,
                        median_days=days(median),
                        p90_days=days(p90),
                    )
                )
        won, won_median, won_p90 = spent.get(None, (0, None, None))
        return VelocityReport(
            stages=rows,
            won_deals=won,
            won_median_days=days(won_median if won else None),
            won_p90_days=days(won_p90 if won else None),
        )

    # --- won and lost ------------------------------------------------------------------------

    @_tuned
    def won_lost(self, filters: ReportFilters) -> WonLostReport:
        if _in_database():
            month_rows, owner_rows, reasons = _won_lost_grouped(filters)
        else:
            month_rows, owner_rows, reasons = _won_lost_queries(filters)

        def outcome(rows: Iterable[dict[str, Any]], key: Any) -> dict[Any, dict[str, Any]]:
            table: dict[Any, dict[str, Any]] = defaultdict(
                lambda: {"won_count": 0, "won_value": ZERO, "lost_count": 0, "lost_value": ZERO}
            )
            for row in rows:
                cell = table[key(row)]
                kind = "won" if row["stage__kind"] == StageKind.WON else "lost"
                cell[f"{kind}_count"] += row["count"]
                cell[f"{kind}_value"] += row["value"] or ZERO
            return table

        def money(cell: dict[str, Any]) -> dict[str, Any]:
            return {**cell, "won_value": cents(cell["won_value"]), "lost_value": cents(cell["lost_value"])}

        by_month = outcome(month_rows, lambda r: (month_label(r["month"]), r["currency"]))
        totals = outcome(month_rows, lambda r: r["currency"])
        labels: dict[int | None, str] = {None: _owner_label(None, None)}
        owner_ids = {r["owner_id"] for r in owner_rows} - {None}
        for pk, full_name, email in User.objects.filter(pk__in=owner_ids).values_list(
            "pk", "full_name", "email"
        ):
            labels[pk] = _owner_label(full_name, email)
        by_owner = outcome(owner_rows, lambda r: (r["owner_id"], r["currency"]))
        won_count = sum(cell["won_count"] for cell in totals.values())
        lost_count = sum(cell["lost_count"] for cell in totals.values())
        return WonLostReport(
            won_count=won_count,
            lost_count=lost_count,
            win_rate=ratio(won_count, won_count + lost_count),
            totals=[OutcomeTotals(currency=c, **money(totals[c])) for c in sorted(totals)],
            by_month=[
                MonthOutcome(month=m, currency=c, **money(by_month[(m, c)])) for m, c in sorted(by_month)
            ],
            by_owner=[
                OwnerOutcome(owner_id=o, owner=labels[o], currency=c, **money(by_owner[(o, c)]))
                for o, c in sorted(by_owner, key=lambda k: (_owner_key(k[0]), k[1]))
            ],
            by_lost_reason=[
                LostReasonRow(r["lost_reason"], r["currency"], r["count"], cents(r["value"]))
                for r in sorted(reasons, key=lambda r: (r["lost_reason"], r["currency"]))
            ],
        )

    # --- forecast ----------------------------------------------------------------------------

    def forecast(self, filters: ReportFilters) -> ForecastReport:
        deals = _deals(filters).filter(stage__kind=StageKind.OPEN)
        if filters.date_from is not None:
            deals = deals.filter(expected_close_date__gte=filters.date_from)
        if filters.date_to is not None:
            deals = deals.filter(expected_close_date__lte=filters.date_to)
        rows = list(
            deals.annotate(month=TruncMonth("expected_close_date"))
            .values("month", "currency")
            .annotate(
                deals=Count("pk"),
                open_value=Sum("value"),
                value_times_probability=Sum(F("value") * F("stage__probability")),
            )
        )
        rows.sort(key=lambda r: (r["month"] is None, r["month"] or datetime.date.min, r["currency"]))
        totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"deals": 0, "open": ZERO, "weighted": ZERO})
        for row in rows:
            total = totals[row["currency"]]
            total["deals"] += row["deals"]
            total["open"] += row["open_value"] or ZERO
            total["weighted"] += decimal.Decimal(row["value_times_probability"] or 0)
        return ForecastReport(
            by_month=[
                ForecastRow(
                    month=month_label(r["month"]),
                    currency=r["currency"],
                    deals=r["deals"],
                    open_value=cents(r["open_value"]),
                    weighted_value=weighted(r["value_times_probability"]),
                )
                for r in rows
            ],
            totals=[
                ForecastTotals(
                    c, totals[c]["deals"], cents(totals[c]["open"]), weighted(totals[c]["weighted"])
                )
                for c in sorted(totals)
            ],
        )

    # --- activity ----------------------------------------------------------------------------

    def activity(self, filters: ReportFilters) -> ActivityReport:
        # The counts by week come from the summary by day (crm.ActivityDay, kept by triggers on
        # every write of an activity): at most days x assignees x kinds rows, whatever the
        # number of activities. Overdue tasks depend on "now": counted from the open tasks
        # (the partial index of crm 0006).
        activities = Activity.objects.filter(organization_id=filters.organization_id)
        summary = ActivityDay.objects.filter(organization_id=filters.organization_id)
        if filters.owner_id is not None:
            activities = activities.filter(assignee_id=filters.owner_id)
            summary = summary.filter(assignee_key=filters.owner_id)
        if filters.date_from is not None:
            summary = summary.filter(day__gte=filters.date_from)
        if filters.date_to is not None:
            summary = summary.filter(day__lte=filters.date_to)
        weeks = [
            {
                "week": row["week"],
                "assignee_id": row["assignee_key"] or None,
                "kind": row["kind"],
                "count": row["count"],
            }
            for row in summary.annotate(week=TruncWeek("day"))
            .values("week", "assignee_key", "kind")
            .annotate(count=Sum("total"))
            .order_by()
        ]
        overdue = list(
            activities.filter(kind=ActivityKind.TASK, done=False, due_at__lt=filters.as_of)
            .values("assignee_id")
            .annotate(count=Count("pk"))
            .order_by()
        )
        owner_ids = {row["assignee_id"] for row in (*weeks, *overdue)} - {None}
        labels: dict[int | None, str] = {None: _owner_label(None, None)}
        for pk, full_name, email in User.objects.filter(pk__in=owner_ids).values_list(
            "pk", "full_name", "email"
        ):
            labels[pk] = _owner_label(full_name, email)
        plural = {ActivityKind.TASK: "tasks", ActivityKind.CALL: "calls", ActivityKind.MEETING: "meetings"}
        by_week: dict[tuple[datetime.date, int | None], dict[str, int]] = {}
        by_owner: dict[int | None, dict[str, int]] = {}
        for row in weeks:
            owner = row["assignee_id"]
            week = row["week"].date() if isinstance(row["week"], datetime.datetime) else row["week"]
            column = plural.get(row["kind"], "notes")
            by_week.setdefault((week, owner), _no_activity())[column] += row["count"]
            by_owner.setdefault(owner, _no_activity())[column] += row["count"]
        overdue_rows = sorted(overdue, key=lambda r: _owner_key(r["assignee_id"]))
        return ActivityReport(
            overdue_tasks=sum(r["count"] for r in overdue_rows),
            by_week=[
                ActivityWeek(week=w, owner_id=o, owner=labels[o], **by_week[(w, o)])
                for w, o in sorted(by_week, key=lambda k: (k[0], _owner_key(k[1])))
            ],
            by_owner=[
                ActivityOwner(owner_id=o, owner=labels[o], **by_owner[o])
                for o in sorted(by_owner, key=_owner_key)
            ],
            overdue_by_owner=[
                OverdueOwner(r["assignee_id"], labels[r["assignee_id"]], r["count"]) for r in overdue_rows
            ],
        )

    # --- campaigns ---------------------------------------------------------------------------

    def campaigns(self, filters: ReportFilters) -> CampaignsReport:
        campaigns = Campaign.objects.filter(organization_id=filters.organization_id)
        if filters.owner_id is not None:
            campaigns = campaigns.filter(created_by_id=filters.owner_id)
        campaigns = _within(campaigns, "started_at", filters)
        # The counts come from the counters kept by triggers on every write of a recipient
        # (campaigns.CampaignStateCount and CampaignDay): a few rows per campaign and day. Only
        # the failed recipients are read, to tell a bounce (its address suppressed as bounced by
        # this campaign) from another failure.
        chosen = Subquery(campaigns.values("pk"))
        org = filters.organization_id
        bounce = Exists(
            Suppression.objects.filter(
                organization_id=OuterRef("organization_id"),
                campaign_id=OuterRef("campaign_id"),
                email=Lower(OuterRef("email")),
                reason=SuppressionReason.BOUNCED,
            )
        )
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        for state_row in CampaignStateCount.objects.filter(
            organization_id=org,
            campaign_id__in=chosen,
            state__in=(RecipientState.SENT, RecipientState.FAILED),
        ).values("campaign_id", "state", "total"):
            column = "delivered" if state_row["state"] == RecipientState.SENT else "failed"
            counts[state_row["campaign_id"]][column] = state_row["total"]
        bounced_rows = (
            Recipient.objects.filter(organization_id=org, campaign_id__in=chosen, state=RecipientState.FAILED)
            .filter(bounce)
            .values("campaign_id")
            .annotate(count=Count("campaign_id"))
            .order_by()
        )
        for row in bounced_rows:
            found = counts[row["campaign_id"]]
            found["bounced"] = row["count"]
            found["failed"] = found.get("failed", 0) - row["count"]
        days_seen: dict[datetime.date, dict[str, int]] = defaultdict(
            lambda: {"delivered": 0, "opened": 0, "clicked": 0, "unsubscribed": 0, "bounced": 0}
        )
        events = CampaignEvents.objects.filter(organization_id=org, campaign_id__in=chosen).order_by()
        for row in events.values("day", "metric").annotate(count=Sum("total")):
            days_seen[row["day"]][row["metric"]] += row["count"]
        for row in (
            events.exclude(metric="delivered").values("campaign_id", "metric").annotate(count=Sum("total"))
        ):
            counts[row["campaign_id"]][row["metric"]] = row["count"]
        names = ("delivered", "opened", "clicked", "unsubscribed", "bounced", "failed")
        rows = []
        for campaign in campaigns.order_by("pk").values("pk", "name", "state", "started_at"):
            found = counts.get(campaign["pk"], {})
            figures = {name: found.get(name, 0) for name in names}
            rows.append(
                CampaignRow(
                    campaign_id=campaign["pk"],
                    campaign=campaign["name"],
                    state=campaign["state"],
                    started_at=campaign["started_at"],
                    sent=figures["delivered"] + figures["bounced"] + figures["failed"],
                    **figures,
                )
            )
        bounces = (
            Suppression.objects.filter(
                organization_id=filters.organization_id,
                reason=SuppressionReason.BOUNCED,
                campaign_id__in=chosen,
            )
            .annotate(day=TruncDate("created_at", tzinfo=UTC))
            .values("day")
            .annotate(count=Count("pk"))
        )
        for row in bounces:
            days_seen[row["day"]]["bounced"] += row["count"]
        totals = {name: sum(getattr(row, name) for row in rows) for name in ("sent", *names)}
        return CampaignsReport(
            totals=CampaignTotals(**totals),
            campaigns=rows,
            by_day=[CampaignDay(day=d, **days_seen[d]) for d in sorted(days_seen)],
        )
