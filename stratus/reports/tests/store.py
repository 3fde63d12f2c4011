"""The analytics store of the ClickHouse engine's tests: chDB (the ClickHouse engine in this
process) in a folder of the test session, loaded with a copy of PostgreSQL's rows.

``load()`` makes the store say what the primary database says now (each mirrored table emptied,
then every row copied as the shipper would: the schema's columns and conversions, ``_version``
1, not deleted), so a test reads on ClickHouse the data set it has just built in PostgreSQL.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from stratus.analytics import client as analytics
from stratus.analytics import schema


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    return value


def row_values(table: schema.Table, source: tuple[Any, ...]) -> list[Any]:
    """A source row (``values_list(*schema.fields(table))``) as the store's column values. The
    shipper builds its rows in PostgreSQL (``schema.rows_sql``); its test
    ``stratus/analytics/tests`` checks every column reads back equal to its source, so this
    loader and the shipper agree on what the engine reads."""
    values = []
    for column, value in zip(table.columns, source, strict=True):
        values.append(_json_value(column.convert(value) if column.convert is not None else value))
    return values


def tombstone(table: schema.Table, organization_id: int, row_id: int) -> list[Any]:
    """The row that deletes ``row_id``: its key, the other columns at their type's zero."""
    values: list[Any] = []
    for column in table.columns:
        if column.name == "organization_id":
            values.append(organization_id)
        elif column.name == "id":
            values.append(row_id)
        elif column.type.startswith("Nullable"):
            values.append(None)
        elif "Int" in column.type or column.type.startswith("Decimal"):
            values.append(0)
        elif "DateTime" in column.type:
            values.append(schema.ZERO_TIME)
        else:
            values.append("")
    return values


def load() -> None:
    writer = analytics.writer()
    schema.migrate(writer)
    for table in schema.TABLES:
        writer.command(f"TRUNCATE TABLE `{writer.database}`.`{table.name}`")
        rows = [
            [*row_values(table, row), 1, 0]
            for row in table.model._default_manager.order_by("pk").values_list(*schema.fields(table))
        ]
        writer.insert(table.name, [*table.names, schema.VERSION, schema.DELETED], rows)
