"""Comparing the store with PostgreSQL: per table, organization and month, the number of rows
and the sums of the table's numeric columns (``schema.Table.month`` and ``sums``)."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Count, Q, Sum
from django.db.models.functions import TruncMonth

from stratus.analytics import client as analytics
from stratus.analytics.schema import TABLES, Table

UTC = datetime.UTC

Key = tuple[int, datetime.date | None]  # organization, month (None: rows without a date)


@dataclass(frozen=True)
class Difference:
    table: str
    organization_id: int
    month: datetime.date | None
    measure: str  # "rows" or a summed column
    database: Any
    store: Any

    def __str__(self) -> str:
        month = self.month.strftime("%Y-%m") if self.month else "no date"
        return (
            f"{self.table}: organization {self.organization_id}, {month}, {self.measure}: "
            f"PostgreSQL {self.database}, ClickHouse {self.store}"
        )


def _database(table: Table, organization_id: int | None) -> dict[Key, tuple[Any, ...]]:
    rows = table.model._default_manager.all()
    if organization_id is not None:
        rows = rows.filter(organization_id=organization_id)
    measures: dict[str, Any] = {"rows": Count("pk")}
    for name in table.sums:
        field = table.model._meta.get_field(name)
        measures[name] = (
            Count("pk", filter=Q(**{name: True})) if isinstance(field, BooleanField) else Sum(name)
        )
    if table.month is not None:
        rows = rows.annotate(month=TruncMonth(table.month, tzinfo=UTC))
        grouped = rows.values("organization_id", "month")
    else:
        grouped = rows.values("organization_id")
    found: dict[Key, tuple[Any, ...]] = {}
    for row in grouped.annotate(**measures).order_by():
        month = row.get("month")
        if isinstance(month, datetime.datetime):
            month = month.date()
        found[(row["organization_id"], month)] = tuple(_number(row[m]) for m in measures)
    return found


def _store(table: Table, organization_id: int | None) -> dict[Key, tuple[Any, ...]]:
    store = analytics.reader()
    month = f"toStartOfMonth(`{table.month}`)" if table.month else "CAST(NULL AS Nullable(Date))"
    sums = "".join(f", sum(`{name}`)" for name in table.sums)
    where = "" if organization_id is None else " WHERE organization_id = {organization_id:UInt64}"
    rows = store.query(
        f"SELECT organization_id, {month} AS month, count(){sums} "  # noqa: S608 - declared names
        f"FROM `{store.database}`.`{table.name}` FINAL{where} GROUP BY organization_id, month",
        {} if organization_id is None else {"organization_id": organization_id},
    )
    return {(row[0], row[1]): tuple(_number(v) for v in row[2:]) for row in rows}


def _number(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, decimal.Decimal):
        return value.normalize() if value else decimal.Decimal(0)
    return value


def differences(
    *, organization_id: int | None = None, tables: tuple[Table, ...] = TABLES
) -> list[Difference]:
    found = []
    for table in tables:
        database, store = _database(table, organization_id), _store(table, organization_id)
        measures = ("rows", *table.sums)
        empty = tuple(0 for _ in measures)
        for key in sorted(set(database) | set(store), key=lambda k: (k[0], k[1] or datetime.date.min)):
            left, right = database.get(key, empty), store.get(key, empty)
            for measure, a, b in zip(measures, left, right, strict=True):
                if a != b:
                    found.append(Difference(table.name, key[0], key[1], measure, a, b))
    return found
