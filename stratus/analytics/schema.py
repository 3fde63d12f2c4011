"""The analytics store's tables, declared once: the shipper, the backfill, the verifier and the
reports engine on ClickHouse read their names and columns from here.

Each table mirrors one source model, row for row: the columns the reports read, keyed by
``(organization_id, id)``, plus ``_version`` (the outbox sequence number of the change that
shipped the row) and ``_deleted`` (1 for a tombstone). The engine is
``ReplacingMergeTree(_version, _deleted)``: a row shipped twice, or shipped again after a
change, is one row once merged, and a reader that selects ``FROM table FINAL`` sees exactly the
latest version of each live row before any merge. Nothing is partitioned: a partition key read
from a column that can change would leave the old version in another partition, where
``FINAL`` does not replace it.

Times are ``DateTime64(6, 'UTC')`` (PostgreSQL keeps microseconds), money ``Decimal(14, 2)``
as the source. E-mail addresses are not copied: a recipient and a suppression carry
``email_hash`` (the first 8 bytes of BLAKE2b over the lower-cased address), enough to tell a
bounce (a recipient whose address this campaign suppressed as bounced).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from stratus.campaigns.models import Campaign, Recipient, Suppression
from stratus.crm.models import Activity, Company, Contact, Deal, DealStay, Pipeline, Stage

TIME = "DateTime64(6, 'UTC')"
VERSION, DELETED = "_version", "_deleted"


def email_hash(email: str | None) -> int:
    """The key an address is matched by in the store (never the address itself)."""
    digest = hashlib.blake2b((email or "").strip().lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class Column:
    name: str  # the column in ClickHouse
    type: str  # its ClickHouse type
    source: str = ""  # the model field it is read from (default: the same name)
    convert: Callable[[Any], Any] | None = None  # from the source value, when not the identity

    @property
    def field(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class Table:
    name: str  # the ClickHouse table
    model: type[models.Model]
    columns: tuple[Column, ...]
    month: str | None  # the column the verifier groups by month (None: one bucket)
    sums: tuple[str, ...] = field(default=())  # the numeric columns the verifier adds up
    # The columns a report filters a range of: each gets a minmax skip index (see INDEXES).
    ranges: tuple[str, ...] = field(default=())

    @property
    def source(self) -> str:
        return self.model._meta.db_table

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def watched(self) -> tuple[str, ...]:
        """The source's database columns a change of which must be shipped."""
        columns = []
        for column in self.columns:
            if column.name in ("organization_id", "id"):
                continue
            field = self.model._meta.get_field(column.field)
            if not isinstance(field, models.Field) or not field.column:
                raise TypeError(f"{table_label(self)}.{column.field} is not a column")
            columns.append(field.column)
        return tuple(dict.fromkeys(columns))


def table_label(table: Table) -> str:
    return table.model._meta.label


def _key(name: str) -> Column:
    return Column(name, "UInt64")


def _ref(name: str) -> Column:
    return Column(name, "Nullable(UInt64)")


def _text(name: str) -> Column:
    return Column(name, "LowCardinality(String)")


def _time(name: str, *, null: bool = False) -> Column:
    return Column(name, f"Nullable({TIME})" if null else TIME)


COMMON = (_key("organization_id"), _key("id"))

DEALS = Table(
    "deals",
    Deal,
    (
        *COMMON,
        _key("pipeline_id"),
        _key("stage_id"),
        _ref("owner_id"),
        _ref("company_id"),
        Column("value", "Decimal(14, 2)"),
        _text("currency"),
        Column("lost_reason", "String"),
        Column("expected_close_date", "Nullable(Date32)"),
        _time("created_at"),
        _time("stage_changed_at"),
        _time("closed_at", null=True),
    ),
    month="created_at",
    sums=("value",),
    ranges=("created_at", "closed_at", "expected_close_date"),
)
DEAL_STAYS = Table(
    "deal_stays",
    DealStay,
    (
        *COMMON,
        _key("deal_id"),
        _key("stage_id"),
        _time("deal_created_at"),
        _time("entered_at"),
        _time("left_at", null=True),
        # The deal's, copied on the stay by the database (crm.DealStay): the velocity's filters.
        _ref("pipeline_id"),
        _ref("owner_id"),
        _text("currency"),
    ),
    month="entered_at",
    ranges=("deal_created_at",),
)
PIPELINES = Table(
    "pipelines",
    Pipeline,
    (*COMMON, Column("name", "String"), Column("position", "UInt32"), _time("created_at")),
    month="created_at",
)
STAGES = Table(
    "stages",
    Stage,
    (
        *COMMON,
        _key("pipeline_id"),
        Column("name", "String"),
        Column("position", "UInt32"),
        Column("probability", "UInt8"),
        _text("kind"),
        _time("created_at"),
    ),
    month="created_at",
    sums=("probability",),
)
ACTIVITIES = Table(
    "activities",
    Activity,
    (
        *COMMON,
        _text("kind"),
        _ref("assignee_id"),
        _ref("contact_id"),
        _ref("company_id"),
        _ref("deal_id"),
        Column("done", "UInt8", convert=int),
        _time("created_at"),
        _time("due_at", null=True),
        _time("done_at", null=True),
    ),
    month="created_at",
    sums=("done",),
    ranges=("created_at",),
)
CONTACTS = Table(
    "contacts",
    Contact,
    (*COMMON, _ref("owner_id"), _ref("company_id"), _time("created_at")),
    month="created_at",
)
COMPANIES = Table(
    "companies",
    Company,
    (*COMMON, _ref("owner_id"), _time("created_at")),
    month="created_at",
)
CAMPAIGNS = Table(
    "campaigns",
    Campaign,
    (
        *COMMON,
        Column("name", "String"),
        _text("state"),
        _ref("created_by_id"),
        _time("created_at"),
        _time("started_at", null=True),
        _time("finished_at", null=True),
    ),
    month="created_at",
)
CAMPAIGN_RECIPIENTS = Table(
    "campaign_recipients",
    Recipient,
    (
        *COMMON,
        _key("campaign_id"),
        _ref("contact_id"),
        Column("email_hash", "UInt64", source="email", convert=email_hash),
        _text("state"),
        _time("sent_at", null=True),
        _time("opened_at", null=True),
        Column("open_count", "UInt32"),
        _time("clicked_at", null=True),
        Column("click_count", "UInt32"),
        _time("unsubscribed_at", null=True),
    ),
    month="sent_at",
    sums=("open_count", "click_count"),
    ranges=("campaign_id",),
)
SUPPRESSIONS = Table(
    "suppressions",
    Suppression,
    (
        *COMMON,
        Column("email_hash", "UInt64", source="email", convert=email_hash),
        _text("reason"),
        _ref("campaign_id"),
        _time("created_at"),
    ),
    month="created_at",
)

TABLES: tuple[Table, ...] = (
    DEALS,
    DEAL_STAYS,
    PIPELINES,
    STAGES,
    ACTIVITIES,
    CONTACTS,
    COMPANIES,
    CAMPAIGNS,
    CAMPAIGN_RECIPIENTS,
    SUPPRESSIONS,
)
BY_NAME = {table.name: table for table in TABLES}
BY_SOURCE = {table.source: table for table in TABLES}


# Rows are stored in id order, and ids grow with time: the minimum and maximum of a time column
# over a granule (8,192 rows) let a report on a date range skip the granules outside it. Correct
# with FINAL: ClickHouse reads a skipped granule's other versions of the rows it keeps
# (use_skip_indexes_if_final_exact_mode, on by default).
def index_name(column: str) -> str:
    return f"range_{column}"


def index_sql(column: str) -> str:
    """The index's declaration (after ``INDEX`` in CREATE TABLE, after ``ADD INDEX`` in ALTER)."""
    return f"`{index_name(column)}` `{column}` TYPE minmax GRANULARITY 1"


def create_sql(table: Table, database: str) -> str:
    columns = ",\n    ".join(
        [f"`{c.name}` {c.type}" for c in table.columns]
        + [f"`{VERSION}` UInt64", f"`{DELETED}` UInt8"]
        + [f"INDEX {index_sql(column)}" for column in table.ranges]
    )
    return (
        f"CREATE TABLE IF NOT EXISTS `{database}`.`{table.name}` (\n    {columns}\n)\n"
        f"ENGINE = ReplacingMergeTree({VERSION}, {DELETED})\nORDER BY (organization_id, id)"
    )


# --- values: PostgreSQL builds each store row (the shipper's SQL) --------------------------------

ZERO_TIME = "1970-01-01 00:00:00.000000"


def in_python(column: Column) -> bool:
    """A column PostgreSQL cannot compute (the e-mail hash, BLAKE2b): the shipper appends it."""
    return column.convert is not None and column.convert is not int


def _source_column(table: Table, column: Column) -> str:
    """The database column ``column`` is read from."""
    field = table.model._meta.get_field(column.field)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{table_label(table)}.{column.field} is not a column")
    return field.column


def _column_sql(table: Table, column: Column) -> str:
    """The value of ``column`` in JSON, from the source row ``s``."""
    expression = f's."{_source_column(table, column)}"'
    if column.convert is int:
        return f"{expression}::int"
    if "DateTime" in column.type:
        return f"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    if "Date" in column.type:
        return f"to_char({expression}, 'YYYY-MM-DD')"
    if "Decimal" in column.type:
        return f"{expression}::text"
    return expression


def _tombstone_sql(column: Column) -> str:
    """The value of ``column`` in the row that deletes ``c.row_id``: its key, the other columns
    at their type's zero."""
    if column.name == "organization_id":
        return "c.organization_id"
    if column.name == "id":
        return "c.row_id"
    if column.type.startswith("Nullable"):
        return "NULL::text"
    if "Int" in column.type or column.type.startswith("Decimal"):
        return "0"
    if "DateTime" in column.type:
        return f"'{ZERO_TIME}'::text"
    return "''::text"


def insert_columns(table: Table) -> tuple[str, ...]:
    """The store columns in the order the shipper sends them: those PostgreSQL builds, the
    version and the tombstone flag, then those computed in Python."""
    built = [c.name for c in table.columns if not in_python(c)]
    return (*built, VERSION, DELETED, *(c.name for c in table.columns if in_python(c)))


_CHANGED_SQL = (
    "WITH changed AS (SELECT DISTINCT ON (row_id) row_id, seq AS version, organization_id "
    "FROM analytics_outbox "
    "WHERE (xid, seq) > (%(after_xid)s, %(after_seq)s) AND (xid, seq) <= (%(last_xid)s, %(last_seq)s) "
    "AND source = %(source)s ORDER BY row_id, seq DESC) "
)


def rows_sql(table: Table) -> str:
    """One statement: the store rows of the entries of ``table`` in the batch range
    ``(after_xid, after_seq) < (xid, seq) <= (last_xid, last_seq)``. Each changed id once, with
    ``_version`` = its largest ``seq``; an id gone from the source becomes a tombstone. A row is
    a JSON array (``JSONCompactEachRow``) of the columns of :func:`insert_columns` built by
    PostgreSQL, followed by the source values of the columns computed in Python (NULL for a
    tombstone)."""
    built = [c for c in table.columns if not in_python(c)]
    live = ", ".join([*(_column_sql(table, c) for c in built), "c.version", "0"])
    dead = ", ".join([*(_tombstone_sql(c) for c in built), "c.version", "1"])
    extra = "".join(
        f', CASE WHEN s.id IS NULL THEN NULL ELSE s."{_source_column(table, c)}" END'
        for c in table.columns
        if in_python(c)
    )
    # Names and expressions from the declarations above; the values are bound.
    row = f"CASE WHEN s.id IS NULL THEN json_build_array({dead}) ELSE json_build_array({live}) END::text"
    return f"{_CHANGED_SQL}SELECT {row}{extra} FROM changed c LEFT JOIN {table.source} s ON s.id = c.row_id"  # noqa: S608


def python_values(table: Table, values: tuple[Any, ...]) -> list[int]:
    """The columns computed in Python, from their source values (None: a tombstone, zeros)."""
    columns = [c for c in table.columns if in_python(c)]
    return [
        0 if value is None or column.convert is None else int(column.convert(value))
        for column, value in zip(columns, values, strict=True)
    ]


def fields(table: Table) -> tuple[str, ...]:
    return tuple(column.field for column in table.columns)


def migrate(store: Any) -> list[str]:
    """Create the database and tables, and add the columns and indexes a newer release declares;
    idempotent. The statements run, for the command to print."""
    statements: list[str] = []

    def run(statement: str) -> None:
        store.command(statement)
        statements.append(statement)

    run(f"CREATE DATABASE IF NOT EXISTS `{store.database}`")
    for table in TABLES:
        run(create_sql(table, store.database))
        for column in table.columns:
            run(
                f"ALTER TABLE `{store.database}`.`{table.name}` "
                f"ADD COLUMN IF NOT EXISTS `{column.name}` {column.type}"
            )
        indexed = {
            name
            for (name,) in store.query(
                "SELECT name FROM system.data_skipping_indices "
                "WHERE database = {db:String} AND table = {table:String}",
                {"db": store.database, "table": table.name},
            )
        }
        for ranged in table.ranges:
            if index_name(ranged) in indexed:
                continue
            # A table made by an older release: the index is added, and built for the parts it
            # has by a mutation (in the background); new parts get it as they are written.
            run(f"ALTER TABLE `{store.database}`.`{table.name}` ADD INDEX IF NOT EXISTS {index_sql(ranged)}")
            run(f"ALTER TABLE `{store.database}`.`{table.name}` MATERIALIZE INDEX `{index_name(ranged)}`")
    return statements
