"""Counter tables kept by database triggers: summaries the reports read in place of the rows.

A :class:`Counter` names a summary table (its key columns and a ``total``), the table it counts
(the source) and one or more :class:`Count` s: the key of the summary row a source row adds one
to, and the condition under which it counts. Triggers on the source (PostgreSQL: one PL/pgSQL
function; SQLite: one trigger per operation) add one to the new row's summary rows on every
insert, take one from the old row's on every delete, and move the count on an update that
changes a key or the condition, in the same statement as the write. Every writer is covered
that way: the services, queryset ``update()`` / ``delete()``, ``bulk_create``, the cascades of
Django's collector and ``SET NULL``, and raw SQL. A summary row whose total reaches zero is
deleted, so a summary never holds an empty row.

What the triggers do not see: ``COPY`` or writes with ``session_replication_role = replica``
(``bench/generate.py``) and triggers dropped by hand. :func:`rebuild` recounts a summary from
the rows (``manage.py reports_rebuild_summaries``); it is idempotent.

Key expressions are SQL over the row ``{r}`` (``NEW``, ``OLD`` or the rebuild's alias);
``DAY({r}.column)`` is the UTC day of a timestamp on either database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

_DAY = re.compile(r"DAY\(([^()]*)\)")


@dataclass(frozen=True)
class Count:
    keys: tuple[str, ...]  # one SQL expression per key column of the counter table
    condition: str = "TRUE"


@dataclass(frozen=True)
class Counter:
    name: str  # prefix of the trigger and function names
    table: str
    source: str
    columns: tuple[str, ...]  # the key columns of ``table`` (its unique constraint)
    watched: tuple[str, ...]  # the source columns the keys and conditions read
    counts: tuple[Count, ...]


def _sql(expression: str, vendor: str, row: str) -> str:
    day = r"((\1) AT TIME ZONE 'UTC')::date" if vendor == "postgresql" else r"date(\1)"
    return _DAY.sub(day, expression.replace("{r}", row))


def _condition(count: Count, vendor: str, row: str) -> str:
    return "(" + _sql(count.condition, vendor, row) + ")"


def _add(counter: Counter, count: Count, vendor: str, row: str, extra: str = "") -> str:
    keys = ", ".join(_sql(k, vendor, row) for k in count.keys)
    return (
        f"INSERT INTO {counter.table} ({', '.join(counter.columns)}, total) "
        f"SELECT {keys}, 1 WHERE {_condition(count, vendor, row)}{extra} "
        f"ON CONFLICT ({', '.join(counter.columns)}) DO UPDATE SET total = {counter.table}.total + 1;"
    )


def _take(counter: Counter, count: Count, vendor: str, row: str, extra: str = "") -> str:
    match = " AND ".join(
        f"{column} = {_sql(k, vendor, row)}" for column, k in zip(counter.columns, count.keys, strict=True)
    )
    where = f"{_condition(count, vendor, row)}{extra} AND {match}"
    return (
        f"UPDATE {counter.table} SET total = total - 1 WHERE {where}; "  # noqa: S608 - model metadata
        f"DELETE FROM {counter.table} WHERE {where} AND total <= 0;"
    )


def _changed(count: Count, vendor: str) -> str:
    """True when the update moves the row from one summary row (or none) to another."""
    parts = [p for p in (*count.keys, count.condition) if "{r}" in p]  # not the constants
    if vendor == "postgresql":
        old = ", ".join(_sql(p, vendor, "OLD") for p in parts)
        new = ", ".join(_sql(p, vendor, "NEW") for p in parts)
        return f"(ROW({old}) IS DISTINCT FROM ROW({new}))"
    same = " AND ".join(f"({_sql(p, vendor, 'OLD')}) IS ({_sql(p, vendor, 'NEW')})" for p in parts)
    return f"(NOT ({same}))"


def install_sql(counter: Counter, vendor: str) -> list[str]:
    """The statements that create the counter's triggers (after dropping any older ones)."""
    if vendor == "postgresql":
        body = []
        for count in counter.counts:
            changed = _changed(count, vendor)
            body.append(
                f"IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND {changed}) THEN "
                f"{_take(counter, count, vendor, 'OLD')} END IF;"
            )
            body.append(
                f"IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND {changed}) THEN "
                f"{_add(counter, count, vendor, 'NEW')} END IF;"
            )
        return [
            *uninstall_sql(counter, vendor),
            f"CREATE FUNCTION {counter.name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            + " ".join(body)
            + " RETURN NULL; END $$",
            f"CREATE TRIGGER {counter.name} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(counter.watched)} "
            f"ON {counter.source} FOR EACH ROW EXECUTE FUNCTION {counter.name}()",
        ]
    inserted = " ".join(_add(counter, c, vendor, "NEW") for c in counter.counts)
    deleted = " ".join(_take(counter, c, vendor, "OLD") for c in counter.counts)
    updated = " ".join(
        _take(counter, c, vendor, "OLD", f" AND {_changed(c, vendor)}")
        + " "
        + _add(counter, c, vendor, "NEW", f" AND {_changed(c, vendor)}")
        for c in counter.counts
    )
    return [
        *uninstall_sql(counter, vendor),
        f"CREATE TRIGGER {counter.name}_insert AFTER INSERT ON {counter.source} BEGIN {inserted} END",
        f"CREATE TRIGGER {counter.name}_delete AFTER DELETE ON {counter.source} BEGIN {deleted} END",
        f"CREATE TRIGGER {counter.name}_update AFTER UPDATE OF {', '.join(counter.watched)} "
        f"ON {counter.source} BEGIN {updated} END",
    ]


def uninstall_sql(counter: Counter, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {counter.name} ON {counter.source}",
            f"DROP FUNCTION IF EXISTS {counter.name}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {counter.name}_{op}" for op in ("insert", "delete", "update")]


def rebuild_sql(counter: Counter, vendor: str, organization_id: int | None = None) -> list[str]:
    """The statements that recount the summary from the source rows (all or one organization)."""
    scope = "" if organization_id is None else f" AND r.organization_id = {int(organization_id)}"
    statements = []
    if vendor == "postgresql":
        # Writers wait for the recount (their triggers would race it); readers do not.
        statements.append(f"LOCK TABLE {counter.source} IN SHARE MODE")
    where = "" if organization_id is None else f" WHERE organization_id = {int(organization_id)}"
    statements.append(f"DELETE FROM {counter.table}{where}")  # noqa: S608 - model metadata
    for count in counter.counts:
        keys = [_sql(k, vendor, "r") for k in count.keys]
        grouped = [_sql(k, vendor, "r") for k in count.keys if "{r}" in k]  # not the constants
        statements.append(
            f"INSERT INTO {counter.table} ({', '.join(counter.columns)}, total) "  # noqa: S608 - model metadata
            f"SELECT {', '.join(keys)}, COUNT(*) FROM {counter.source} AS r "
            f"WHERE {_condition(count, vendor, 'r')}{scope} GROUP BY {', '.join(grouped)} "
            f"ON CONFLICT ({', '.join(counter.columns)}) "
            f"DO UPDATE SET total = {counter.table}.total + excluded.total"
        )
    return statements


def install(counter: Counter, connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(counter, connection.vendor):
            cursor.execute(statement)


def uninstall(counter: Counter, connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(counter, connection.vendor):
            cursor.execute(statement)


def rebuild(counter: Counter, connection: BaseDatabaseWrapper, organization_id: int | None = None) -> None:
    with connection.cursor() as cursor:
        for statement in rebuild_sql(counter, connection.vendor, organization_id):
            cursor.execute(statement)


# --- the counters ----------------------------------------------------------------------------

ACTIVITY_DAYS = Counter(
    name="crm_activity_day_count",
    table="crm_activityday",
    source="crm_activity",
    columns=("organization_id", "day", "assignee_key", "kind"),
    watched=("organization_id", "created_at", "assignee_id", "kind"),
    counts=(
        Count(("{r}.organization_id", "DAY({r}.created_at)", "COALESCE({r}.assignee_id, 0)", "{r}.kind")),
    ),
)
