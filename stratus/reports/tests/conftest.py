"""The reports' tests on every engine: for the ClickHouse engine, a chDB store loaded from the
test's data set (``store.load``) once the data set is built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.reports import engines
from stratus.reports.tests import store


@pytest.fixture(scope="session")
def analytics_url(chdb_folder: Path) -> str:
    """The reports' store: a database of its own in the process's chDB folder."""
    return f"chdb://{chdb_folder}?database=reports_test"


@pytest.fixture
def analytics_store(settings: Any, analytics_url: str) -> Callable[[], None]:
    """The ClickHouse engine's store (chDB): the reader and writer URLs set; call to load it."""
    settings.ANALYTICS_URL = settings.ANALYTICS_WRITER_URL = analytics_url
    return store.load


@pytest.fixture(params=engines.engine_names())
def engine_name(request: pytest.FixtureRequest, settings: Any) -> str:
    """An API test run on each engine (``REPORTS_ENGINE``)."""
    settings.REPORTS_ENGINE = request.param
    return str(request.param)


@pytest.fixture(autouse=True)
def _clickhouse_store(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the ClickHouse engine reads its data set from chDB, loaded once it is built."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("engine_name") != "clickhouse":
        yield
        return
    load = request.getfixturevalue("analytics_store")
    if "ds" in request.fixturenames:
        request.getfixturevalue("ds")
    load()
    yield
