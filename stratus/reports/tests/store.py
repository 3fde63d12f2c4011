"""The analytics store of the ClickHouse engine's tests: chDB (the ClickHouse engine in this
process) in a folder of the test session, loaded with a copy of PostgreSQL's rows.

``load()`` makes the store say what the primary database says now (each mirrored table emptied,
then every row copied as the shipper would: the schema's columns and conversions, ``_version``
1, not deleted), so a test reads on ClickHouse the data set it has just built in PostgreSQL.
"""

from __future__ import annotations

from stratus.analytics import client as analytics
from stratus.analytics import schema


def load() -> None:
    writer = analytics.writer()
    schema.migrate(writer)
    for table in schema.TABLES:
        writer.command(f"TRUNCATE TABLE `{writer.database}`.`{table.name}`")
        rows = [
            [*schema.row_values(table, row), 1, 0]
            for row in table.model._default_manager.order_by("pk").values_list(*schema.fields(table))
        ]
        writer.insert(table.name, [*table.names, schema.VERSION, schema.DELETED], rows)
