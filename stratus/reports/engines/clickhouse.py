"""The reports computed by the analytics store (ClickHouse), from the rows the shipper mirrors.

The store holds one table per mirrored model (``stratus.analytics.schema``: deals, deal stays,
pipelines, stages, activities, campaigns, campaign recipients, suppressions) under the source's
column names, as ``ReplacingMergeTree(_version, _deleted)`` tables: every statement here reads
``FROM table FINAL`` with ``_deleted = 0``, so it sees the latest version of each live row
before any merge, and a row shipped twice counts once. ClickHouse aggregates the base rows: no
summary table (``crm.ActivityDay``, ``campaigns.CampaignDay``...) is mirrored or read.

Every statement binds the organization as ``{organization_id:UInt64}`` and every filter as a
typed parameter (server-side binding: the values never enter the SQL text), and runs on the
read-only connection (``ANALYTICS_URL``) with the per-query limits of
``stratus.analytics.client.query_limits``. The numbers follow ``contracts`` exactly as the
database engine's: percentiles are ``quantileExactInclusive`` (linear interpolation between
closest ranks, as PostgreSQL's ``percentile_cont``), money is summed as ``Decimal`` per
currency, days, weeks and months are UTC ones (the columns are ``DateTime64(6, 'UTC')``), rows
come in the contract's order. Owner names are not copied to the store: the few users a report
names are read from the primary database by primary key.

Failures: a query that hits a limit raises :class:`ReportTooHeavy` (422, the report and the
limit named); a store that cannot be reached (or has no tables yet) raises
:class:`ReportsUnavailable` (503 with ``Retry-After``), or, when ``ANALYTICS_FALLBACK`` is
``database``, the report is computed by the database engine instead.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

from stratus.accounts.models import User
from stratus.analytics import client as analytics
from stratus.platform.errors import Unavailable, Unprocessable
from stratus.reports.contracts import (
    REPORTS,
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
    ratio,
    weighted,
)
from stratus.reports.errors import ReportsCode

logger = logging.getLogger(__name__)

ZERO = decimal.Decimal(0)
OPEN, WON, LOST = "open", "won", "lost"  # crm.StageKind's values
TASK, CALL, MEETING = "task", "call", "meeting"  # crm.ActivityKind's values
SENT, FAILED = "sent", "failed"  # campaigns.RecipientState's values
BOUNCED = "bounced"  # campaigns.SuppressionReason.BOUNCED
TIME = "DateTime64(6, 'UTC')"

# ClickHouse's codes for a store that is there but not built yet (no database, no table): the
# reports cannot be answered until the backfill has run, as when the server is down.
_NOT_READY = {60, 81}  # UNKNOWN_TABLE, UNKNOWN_DATABASE


def _unavailable(error: analytics.AnalyticsError) -> bool:
    """The store is down, unreachable, not configured or not built: not a fault of the query.
    An error without ClickHouse's code never came from ClickHouse (the way to it failed)."""
    if isinstance(error, analytics.AnalyticsUnavailable | analytics.AnalyticsNotConfigured):
        return True
    return error.code is None or error.code in _NOT_READY


class ReportTooHeavy(Unprocessable):
    """A report's query hit a per-query limit of the analytics store."""


class ReportsUnavailable(Unavailable):
    """The analytics store cannot answer now (down, unreachable, not built yet)."""


# --- the statements ----------------------------------------------------------------------------


class _Query:
    """A statement's bound parameters and the filter clauses that use them."""

    def __init__(self, filters: ReportFilters) -> None:
        self.filters = filters
        self.params: dict[str, Any] = {"organization_id": filters.organization_id}
        self.database = analytics.reader().database  # a plain identifier (checked by the client)

    def live(self, table: str, columns: str, where: str = "") -> str:
        """The organization's live rows of a mirrored table: the latest version, not deleted."""
        return (
            f"SELECT {columns} FROM `{self.database}`.`{table}` FINAL "  # noqa: S608 - constant text
            f"WHERE organization_id = {{organization_id:UInt64}} AND _deleted = 0{where}"
        )

    def stages(self, where: str = "") -> str:
        return self.live("stages", "id, pipeline_id, name, kind, position, probability", where)

    def bind(self, name: str, value: Any) -> str:
        self.params[name] = value
        return name

    def deals(self) -> str:
        """The deal filters (pipeline, owner, currency) as clauses on ``deals`` or ``deal_stays``
        (a stay carries its deal's three)."""
        f, where = self.filters, ""
        if f.pipeline_id is not None:
            where += f" AND pipeline_id = {{{self.bind('pipeline_id', f.pipeline_id)}:UInt64}}"
        if f.owner_id is not None:
            where += f" AND owner_id = {{{self.bind('owner_id', f.owner_id)}:UInt64}}"
        if f.currency is not None:
            where += f" AND currency = {{{self.bind('currency', f.currency)}:String}}"
        return where

    def within(self, column: str) -> str:
        """``column`` (a UTC instant) in the date range: [date_from 00:00, the day after date_to)."""
        start, end = self.filters.window()
        where = ""
        if start is not None:
            where += f" AND {column} >= {{{self.bind('window_start', _instant(start))}:{TIME}}}"
        if end is not None:
            where += f" AND {column} < {{{self.bind('window_end', _instant(end))}:{TIME}}}"
        return where

    def pipelines(self, column: str = "id") -> str:
        if self.filters.pipeline_id is None:
            return ""
        return f" AND {column} = {{{self.bind('pipeline_id', self.filters.pipeline_id)}:UInt64}}"

    def owner(self, column: str) -> str:
        if self.filters.owner_id is None:
            return ""
        return f" AND {column} = {{{self.bind('owner_id', self.filters.owner_id)}:UInt64}}"


def _instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _cohort(q: _Query, columns: str = "d.id AS id, d.pipeline_id AS pipeline_id, s.kind AS kind") -> str:
    """The deals created in the date range (with the deal filters), with their stage's kind."""
    deals = q.live(
        "deals",
        "id, pipeline_id, stage_id, created_at, closed_at",
        q.deals() + q.within("created_at"),
    )
    return f"SELECT {columns} FROM ({deals}) AS d INNER JOIN org_stages AS s ON s.id = d.stage_id"  # noqa: S608


_WON_COLUMNS = "d.id AS id, s.kind AS kind, d.created_at AS created_at, d.closed_at AS closed_at"


def _stays(q: _Query, columns: str, where: str = "") -> str:
    """The deal stays of the date range's deals (a stay carries its deal's creation)."""
    return q.live("deal_stays", columns, where + q.within("deal_created_at"))


# A statement that starts ``WITH org_stages AS (...),`` looks its stages up from these arrays
# (one element a stage, in the same order): a few rows, no join.
_STAGE_ARRAYS = f"""
            (SELECT groupArray(id) FROM org_stages) AS stage_ids,
            (SELECT groupArray(pipeline_id) FROM org_stages) AS stage_pipelines,
            (SELECT groupArray(position) FROM org_stages) AS stage_positions,
            (SELECT groupArray(toUInt8(kind = '{LOST}')) FROM org_stages) AS stage_lost"""  # noqa: S608

# grouping(month, owner_id, lost_reason) of the won-lost statement's grouping sets (a bit set:
# the columns not grouped by).
_BY_MONTH, _BY_OWNER, _BY_REASON = 0b011, 0b101, 0b110


# --- the engine --------------------------------------------------------------------------------

_Method = TypeVar("_Method", bound=Callable[..., Any])

# After the store was found unavailable, this process answers without trying it again for a
# few seconds: a store that does not answer (a connect timeout) would otherwise hold a web
# worker for ANALYTICS_CONNECT_TIMEOUT on every report request. Keyed by ANALYTICS_URL.
RECHECK_SECONDS = 5.0
_down_until: dict[str, float] = {}


class _StillDown(analytics.AnalyticsUnavailable):
    """The store failed less than RECHECK_SECONDS ago: not tried again yet."""


def _served(report: str) -> Callable[[_Method], _Method]:
    """Turn the store's failures into the report's answer: an error naming the report, or the
    database engine's figures when ``ANALYTICS_FALLBACK`` is ``database``."""
    title = REPORTS[report].title

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def run(self: ClickHouseEngine, filters: ReportFilters) -> Any:
            url = settings.ANALYTICS_URL
            try:
                if _down_until.get(url, 0.0) > time.monotonic():
                    raise _StillDown("the analytics store was unavailable a moment ago")
                return method(self, filters)
            except analytics.AnalyticsLimitExceeded as error:
                logger.warning("report %s hit the analytics limit %s: %s", report, error.limit, error)
                raise ReportTooHeavy(
                    f"The {title} report needs more than the analytics store allows for one query "
                    f"({error.limit or 'a per-query limit'}); narrow the date range or the filters.",
                    code=ReportsCode.REPORT_TOO_HEAVY,
                ) from error
            except analytics.AnalyticsError as error:
                if not _unavailable(error):
                    raise
                if not isinstance(error, _StillDown):
                    _down_until[url] = time.monotonic() + RECHECK_SECONDS
                if settings.ANALYTICS_FALLBACK == "database":
                    logger.warning(
                        "analytics store unavailable, report %s from the database: %s", report, error
                    )
                    from stratus.reports.engines.database import DatabaseEngine

                    return getattr(DatabaseEngine(), method.__name__)(filters)
                logger.warning("analytics store unavailable, report %s refused: %s", report, error)
                raise ReportsUnavailable(
                    f"The {title} report cannot be computed now: the analytics store is unavailable. "
                    "Try again later.",
                    code=ReportsCode.REPORTS_UNAVAILABLE,
                    retry_after=settings.ANALYTICS_RETRY_AFTER,
                ) from error

        return run  # type: ignore[return-value]

    return decorate


def _read(sql: str, q: _Query) -> list[tuple[Any, ...]]:
    return analytics.read(sql, q.params)


def _labels(owner_ids: set[int | None]) -> dict[int | None, str]:
    """Owner names (full name, else e-mail), from the primary database: the store has no users."""
    labels: dict[int | None, str] = {None: ""}
    known = {pk for pk in owner_ids if pk is not None}
    for pk, full_name, email in User.objects.filter(pk__in=known).values_list("pk", "full_name", "email"):
        labels[pk] = full_name or email or ""
    for pk in known - labels.keys():
        labels[pk] = ""  # a user deleted since (the deal keeps the id until the shipper catches up)
    return labels


def _owner_key(owner_id: int | None) -> tuple[bool, int]:
    """Owners in id order, none last."""
    return (owner_id is None, owner_id or 0)


class ClickHouseEngine:
    name = "clickhouse"

    def _pipelines(self, q: _Query) -> list[tuple[int, str, list[dict[str, Any]]]]:
        """The organization's pipelines (or the filtered one) with their stages, in order."""
        sql = f"""
            WITH org_stages AS ({q.stages(q.pipelines("pipeline_id"))})
            SELECT p.id, p.name, s.id, s.name, s.kind, s.position, s.probability
            FROM ({q.live("pipelines", "id, name, position", q.pipelines())}) AS p
            LEFT JOIN org_stages AS s ON s.pipeline_id = p.id
            ORDER BY p.position, p.id, s.position, s.id
            SETTINGS join_use_nulls = 1
        """  # noqa: S608 - constant text, values bound
        pipelines: dict[int, tuple[int, str, list[dict[str, Any]]]] = {}
        for pipeline_id, pipeline, stage_id, stage, kind, position, probability in _read(sql, q):
            stages = pipelines.setdefault(pipeline_id, (pipeline_id, pipeline, []))[2]
            if stage_id is not None:
                stages.append(
                    {
                        "pk": stage_id,
                        "name": stage,
                        "kind": kind,
                        "position": position,
                        "probability": probability,
                    }
                )
        return list(pipelines.values())

    # --- funnel ------------------------------------------------------------------------------

    @_served("funnel")
    def funnel(self, filters: ReportFilters) -> FunnelReport:
        # A deal's top: the highest position, among the stages it stayed in, of those of its own
        # pipeline that are not lost; then deals by pipeline and top.
        # No join: the cohort's deals (lost: 0 or 1) and their stays in stages not lost (lost: 2,
        # with the stage's pipeline and position) in one stream, grouped by deal and pipeline;
        # a group without its deal's row (a stay in another pipeline, a deal not in the cohort)
        # is dropped. The stages, a few rows, are looked up from arrays.
        q = _Query(filters)
        deals = q.live("deals", "id, pipeline_id, stage_id", q.deals() + q.within("created_at"))
        sql = f"""
            WITH org_stages AS ({q.stages()}),{_STAGE_ARRAYS}
            SELECT pipeline_id, top, count(), countIf(lost = 1)
            FROM (
                SELECT id, pipeline_id, min(lost) AS lost, max(position) AS top
                FROM (
                    SELECT id, pipeline_id, transform(stage_id, stage_ids, stage_lost, toUInt8(2)) AS lost,
                           CAST(NULL AS Nullable(UInt32)) AS position
                    FROM ({deals}) WHERE has(stage_ids, stage_id)
                    UNION ALL
                    SELECT deal_id, transform(stage_id, stage_ids, stage_pipelines, toUInt64(0)), toUInt8(2),
                           transform(stage_id, stage_ids, stage_positions, toUInt32(0))
                    FROM ({_stays(q, "deal_id, stage_id")})
                    WHERE transform(stage_id, stage_ids, stage_lost, toUInt8(1)) = 0
                )
                GROUP BY id, pipeline_id
                HAVING lost < 2
            )
            GROUP BY pipeline_id, top
        """  # noqa: S608 - constant text, values bound
        tops: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        lost: dict[int, int] = defaultdict(int)
        for pipeline_id, top, count, lost_count in _read(sql, q):
            tops[pipeline_id][-1 if top is None else top] += count
            lost[pipeline_id] += lost_count
        pipelines = []
        for pipeline_id, pipeline, stages in self._pipelines(_Query(filters)):
            counts = tops.get(pipeline_id, {})
            steps: list[FunnelStage] = []
            previous: int | None = None
            for stage in stages:
                if stage["kind"] == LOST:
                    continue
                reached = sum(n for top, n in counts.items() if top >= stage["position"])
                conversion = None if previous is None else ratio(reached, previous)
                steps.append(FunnelStage(stage["pk"], stage["name"], stage["kind"], reached, conversion))
                previous = reached
            pipelines.append(
                FunnelPipeline(pipeline_id, pipeline, sum(counts.values()), lost.get(pipeline_id, 0), steps)
            )
        return FunnelReport(pipelines=pipelines)

    # --- velocity ----------------------------------------------------------------------------

    @_served("velocity")
    def velocity(self, filters: ReportFilters) -> VelocityReport:
        # The cohort's ended stays by stage, and creation to won (stage 0: ids start at 1), in
        # seconds with microseconds, as the database engine's epoch differences.
        # A stay carries its deal's creation, pipeline, owner and currency: the stays are
        # filtered alone, no deal read.
        q = _Query(filters)
        stays = _stays(
            q,
            "stage_id, dateDiff('microsecond', entered_at, left_at) / 1e6 AS seconds",
            " AND left_at IS NOT NULL" + q.deals(),
        )
        sql = f"""
            WITH org_stages AS ({q.stages()}),
            cohort AS ({_cohort(q, _WON_COLUMNS)})
            SELECT stage_id, count(), quantilesExactInclusive(0.5, 0.9)(seconds)
            FROM ({stays}) AS stays
            GROUP BY stage_id
            UNION ALL
            SELECT toUInt64(0), count(), quantilesExactInclusive(0.5, 0.9)(seconds)
            FROM (
                SELECT dateDiff('microsecond', created_at, assumeNotNull(closed_at)) / 1e6 AS seconds
                FROM cohort WHERE kind = '{WON}' AND closed_at IS NOT NULL
            ) AS won
        """  # noqa: S608 - constant text, values bound
        spent: dict[int, tuple[int, float | None, float | None]] = {}
        for stage_id, count, (median, p90) in _read(sql, q):
            spent[stage_id] = (count, median, p90) if count else (0, None, None)
        rows = []
        for pipeline_id, pipeline, stages in self._pipelines(_Query(filters)):
            for stage in stages:
                if stage["kind"] != OPEN:
                    continue
                count, median, p90 = spent.get(stage["pk"], (0, None, None))
                rows.append(
                    StageVelocity(
                        pipeline_id=pipeline_id,
                        pipeline=pipeline,
                        stage_id=stage["pk"],
                        stage=stage["name"],
                        stays=count,
                        median_days=days(median),
                        p90_days=days(p90),
                    )
                )
        won, won_median, won_p90 = spent.get(0, (0, None, None))
        return VelocityReport(
            stages=rows, won_deals=won, won_median_days=days(won_median), won_p90_days=days(won_p90)
        )

    # --- won and lost ------------------------------------------------------------------------

    @_served("won-lost")
    def won_lost(self, filters: ReportFilters) -> WonLostReport:
        q = _Query(filters)
        closed = q.live(
            "deals",
            "stage_id, owner_id, currency, value, lost_reason, assumeNotNull(closed_at) AS closed_at",
            " AND closed_at IS NOT NULL" + q.deals() + q.within("closed_at"),
        )
        # One statement, one read, three groupings: by month, by owner, by lost reason (kept for
        # the lost only). grouping() tells them apart: 3 by month, 5 by owner, 6 by reason.
        sql = f"""
            WITH org_stages AS ({q.stages()})
            SELECT grouping(month, owner_id, lost_reason), month, owner_id, lost_reason, currency, kind,
                   count(), sum(value)
            FROM (
                SELECT d.owner_id AS owner_id, d.currency AS currency, d.value AS value,
                       d.lost_reason AS lost_reason, toStartOfMonth(d.closed_at) AS month, s.kind AS kind
                FROM ({closed}) AS d INNER JOIN org_stages AS s ON s.id = d.stage_id
                WHERE s.kind IN ('{WON}', '{LOST}')
            )
            GROUP BY GROUPING SETS ((month, currency, kind), (owner_id, currency, kind),
                                    (lost_reason, currency, kind))
        """  # noqa: S608 - constant text, values bound

        def cell() -> dict[str, Any]:
            return {"won_count": 0, "won_value": ZERO, "lost_count": 0, "lost_value": ZERO}

        totals: dict[str, dict[str, Any]] = defaultdict(cell)
        by_month: dict[tuple[str, str], dict[str, Any]] = defaultdict(cell)
        by_owner: dict[tuple[int | None, str], dict[str, Any]] = defaultdict(cell)
        reasons: list[LostReasonRow] = []
        for part, month, owner_id, reason, currency, kind, count, value in _read(sql, q):
            if part == _BY_REASON:
                if kind == LOST:
                    reasons.append(LostReasonRow(reason, currency, count, cents(value)))
                continue
            if part == _BY_OWNER:
                cells = [by_owner[(owner_id, currency)]]
            else:
                cells = [by_month[(month_label(month) or "", currency)], totals[currency]]
            for found in cells:
                found[f"{kind}_count"] += count
                found[f"{kind}_value"] += value or ZERO

        def money(found: dict[str, Any]) -> dict[str, Any]:
            return {**found, "won_value": cents(found["won_value"]), "lost_value": cents(found["lost_value"])}

        labels = _labels({owner for owner, _ in by_owner})
        won_count = sum(found["won_count"] for found in totals.values())
        lost_count = sum(found["lost_count"] for found in totals.values())
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
            by_lost_reason=sorted(reasons, key=lambda r: (r.lost_reason, r.currency)),
        )

    # --- forecast ----------------------------------------------------------------------------

    @_served("forecast")
    def forecast(self, filters: ReportFilters) -> ForecastReport:
        q = _Query(filters)
        where = q.deals()
        if filters.date_from is not None:
            where += (
                f" AND expected_close_date >= {{{q.bind('date_from', filters.date_from.isoformat())}:Date32}}"
            )
        if filters.date_to is not None:
            where += (
                f" AND expected_close_date <= {{{q.bind('date_to', filters.date_to.isoformat())}:Date32}}"
            )
        deals = q.live("deals", "stage_id, currency, value, expected_close_date", where)
        # value * probability exactly: Decimal(38, 2) sums (a deal's value has 14 digits).
        sql = f"""
            WITH org_stages AS ({q.stages()})
            SELECT toStartOfMonth(d.expected_close_date) AS month, d.currency, count(), sum(d.value),
                   sum(toDecimal128(d.value, 2) * s.probability)
            FROM ({deals}) AS d INNER JOIN org_stages AS s ON s.id = d.stage_id
            WHERE s.kind = '{OPEN}'
            GROUP BY month, d.currency
        """  # noqa: S608 - constant text, values bound
        rows = sorted(_read(sql, q), key=lambda r: (r[0] is None, r[0] or datetime.date.min, r[1]))
        totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"deals": 0, "open": ZERO, "weighted": ZERO})
        for _, currency, count, open_value, value_times_probability in rows:
            total = totals[currency]
            total["deals"] += count
            total["open"] += open_value
            total["weighted"] += value_times_probability
        return ForecastReport(
            by_month=[
                ForecastRow(month_label(month), currency, count, cents(open_value), weighted(times))
                for month, currency, count, open_value, times in rows
            ],
            totals=[
                ForecastTotals(
                    c, totals[c]["deals"], cents(totals[c]["open"]), weighted(totals[c]["weighted"])
                )
                for c in sorted(totals)
            ],
        )

    # --- activity ----------------------------------------------------------------------------

    @_served("activity")
    def activity(self, filters: ReportFilters) -> ActivityReport:
        # Activities created in the range by UTC week (Monday), assignee and kind; and the open
        # tasks due before "now", whatever the range, by assignee (week: NULL).
        q = _Query(filters)
        owner = q.owner("assignee_id")
        created = q.live("activities", "created_at, assignee_id, kind", owner + q.within("created_at"))
        overdue = q.live(
            "activities",
            "assignee_id",
            f" AND kind = '{TASK}' AND done = 0"
            f" AND due_at < {{{q.bind('as_of', _instant(filters.as_of))}:{TIME}}}" + owner,
        )
        sql = f"""
            SELECT toNullable(toMonday(created_at)) AS week, assignee_id, kind, count()
            FROM ({created}) GROUP BY week, assignee_id, kind
            UNION ALL
            SELECT CAST(NULL AS Nullable(Date)), assignee_id, '{TASK}', count()
            FROM ({overdue}) GROUP BY assignee_id
        """  # noqa: S608 - constant text, values bound
        plural = {TASK: "tasks", CALL: "calls", MEETING: "meetings"}
        by_week: dict[tuple[datetime.date, int | None], dict[str, int]] = {}
        by_owner: dict[int | None, dict[str, int]] = {}
        overdue_counts: dict[int | None, int] = {}
        for week, assignee, kind, count in _read(sql, q):
            if week is None:
                overdue_counts[assignee] = count
                continue
            column = plural.get(kind, "notes")
            by_week.setdefault((week, assignee), _no_activity())[column] += count
            by_owner.setdefault(assignee, _no_activity())[column] += count
        labels = _labels({*by_owner, *overdue_counts})
        overdue_owners = sorted(overdue_counts, key=_owner_key)
        return ActivityReport(
            overdue_tasks=sum(overdue_counts.values()),
            by_week=[
                ActivityWeek(week=w, owner_id=o, owner=labels[o], **by_week[(w, o)])
                for w, o in sorted(by_week, key=lambda k: (k[0], _owner_key(k[1])))
            ],
            by_owner=[
                ActivityOwner(owner_id=o, owner=labels[o], **by_owner[o])
                for o in sorted(by_owner, key=_owner_key)
            ],
            overdue_by_owner=[OverdueOwner(o, labels[o], overdue_counts[o]) for o in overdue_owners],
        )

    # --- campaigns ---------------------------------------------------------------------------

    @_served("campaigns")
    def campaigns(self, filters: ReportFilters) -> CampaignsReport:
        q = _Query(filters)
        chosen = q.live("campaigns", "id", q.owner("created_by_id") + q.within("started_at"))
        campaigns = _read(
            q.live(
                "campaigns", "id, name, state, started_at", q.owner("created_by_id") + q.within("started_at")
            )
            + " ORDER BY id",
            q,
        )
        # Per campaign: recipients by state and by event; a failed recipient is a bounce when
        # this campaign suppressed its address as bounced. By day: each dated event of a
        # recipient on its UTC day, and the campaigns' bounces on the day of the suppression.
        recipients = q.live(
            "campaign_recipients",
            "campaign_id, email_hash, state, sent_at, opened_at, clicked_at, unsubscribed_at",
            f" AND campaign_id IN ({chosen})",
        )
        bounces = q.live(
            "suppressions",
            "assumeNotNull(campaign_id) AS campaign_id, email_hash, created_at",
            f" AND reason = '{BOUNCED}' AND campaign_id IN ({chosen})",
        )
        sql = f"""
            WITH recipients AS ({recipients}), bounces AS ({bounces})
            SELECT 'campaign', campaign_id, CAST(NULL AS Nullable(Date)), countIf(state = '{SENT}'),
                   countIf(opened_at IS NOT NULL), countIf(clicked_at IS NOT NULL),
                   countIf(unsubscribed_at IS NOT NULL),
                   countIf(state = '{FAILED}'
                           AND (campaign_id, email_hash) IN (SELECT campaign_id, email_hash FROM bounces)),
                   countIf(state = '{FAILED}')
            FROM recipients GROUP BY campaign_id
            UNION ALL
            SELECT 'day', toUInt64(0), toNullable(day), countIf(metric = 'delivered'),
                   countIf(metric = 'opened'),
                   countIf(metric = 'clicked'), countIf(metric = 'unsubscribed'), countIf(metric = 'bounced'),
                   toUInt64(0)
            FROM (
                SELECT toDate(assumeNotNull(sent_at)) AS day, 'delivered' AS metric FROM recipients
                WHERE sent_at IS NOT NULL
                UNION ALL
                SELECT toDate(assumeNotNull(opened_at)), 'opened' FROM recipients WHERE opened_at IS NOT NULL
                UNION ALL
                SELECT toDate(assumeNotNull(clicked_at)), 'clicked' FROM recipients
                WHERE clicked_at IS NOT NULL
                UNION ALL
                SELECT toDate(assumeNotNull(unsubscribed_at)), 'unsubscribed' FROM recipients
                WHERE unsubscribed_at IS NOT NULL
                UNION ALL
                SELECT toDate(created_at), 'bounced' FROM bounces
            )
            GROUP BY day
        """  # noqa: S608 - constant text, values bound
        counts: dict[int, dict[str, int]] = {}
        by_day: list[CampaignDay] = []
        for part, campaign_id, day, a, b, c, d, e, f in _read(sql, q):
            if part == "day":
                by_day.append(CampaignDay(day, delivered=a, opened=b, clicked=c, unsubscribed=d, bounced=e))
            else:
                counts[campaign_id] = {
                    "delivered": a, "opened": b, "clicked": c, "unsubscribed": d,
                    "bounced": e, "failed": f - e,
                }  # fmt: skip
        names = ("delivered", "opened", "clicked", "unsubscribed", "bounced", "failed")
        rows = []
        for campaign_id, name, state, started_at in campaigns:
            figures = counts.get(campaign_id, dict.fromkeys(names, 0))
            rows.append(
                CampaignRow(
                    campaign_id=campaign_id,
                    campaign=name,
                    state=state,
                    started_at=started_at,
                    sent=figures["delivered"] + figures["bounced"] + figures["failed"],
                    **figures,
                )
            )
        totals = {name: sum(getattr(row, name) for row in rows) for name in ("sent", *names)}
        return CampaignsReport(
            totals=CampaignTotals(**totals), campaigns=rows, by_day=sorted(by_day, key=lambda d: d.day)
        )


def _no_activity() -> dict[str, int]:
    return {"tasks": 0, "calls": 0, "meetings": 0, "notes": 0}
