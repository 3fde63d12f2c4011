"""The analytics tests run on the real ClickHouse engine, in process (chDB), over committed
PostgreSQL data (``transactional_db``: the shipper only takes changes of ended transactions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.analytics import client as analytics
from stratus.analytics import schema, shipper


@pytest.fixture
def store(transactional_db: None, settings: Any, chdb_folder: Path) -> Iterator[analytics.Client]:
    """An empty analytics store (chDB), the capture on, reader and writer configured."""
    url = f"chdb://{chdb_folder}"
    settings.ANALYTICS_URL = url
    settings.ANALYTICS_WRITER_URL = url
    writer = analytics.writer()
    writer.command(f"DROP DATABASE IF EXISTS `{writer.database}`")
    schema.migrate(writer)
    shipper.set_capturing(True)
    yield writer
    shipper.set_capturing(False)


def final(table: str, columns: str = "*", where: str = "") -> list[tuple[Any, ...]]:
    """The live rows of a store table, read as the reports read (``FINAL``)."""
    store = analytics.writer()
    clause = f" WHERE {where}" if where else ""
    return store.query(f"SELECT {columns} FROM `{store.database}`.`{table}` FINAL{clause} ORDER BY id")
