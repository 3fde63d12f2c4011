"""The reader: read-only in ClickHouse itself, the organization always bound, limits enforced
with a clear error class."""

from __future__ import annotations

import threading
import time

import pytest

from stratus.analytics import client as analytics
from stratus.analytics.client import AnalyticsError, AnalyticsLimitExceeded, AnalyticsRefused

pytestmark = pytest.mark.django_db(transaction=True)

ROW = "(1, 1, 1, 1, NULL, NULL, 10, 'EUR', '', NULL, now64(6), now64(6), NULL, 1, 0)"


def test_clickhouse_refuses_writes_through_the_reader(store: analytics.Client) -> None:
    reader = analytics.reader()
    assert reader is not store
    assert reader.read_only
    with pytest.raises(AnalyticsRefused) as insert:
        reader.command(f"INSERT INTO `{reader.database}`.deals VALUES {ROW}")
    assert insert.value.code == 164  # READONLY: ClickHouse's own refusal
    for statement in (
        f"CREATE TABLE `{reader.database}`.intruder (id UInt64) ENGINE = MergeTree ORDER BY id",
        f"DROP TABLE `{reader.database}`.deals",
        f"TRUNCATE TABLE `{reader.database}`.deals",
        "SET readonly = 0",
    ):
        with pytest.raises(AnalyticsRefused):
            reader.command(statement)
    # The writer may: the refusal above is the reader's profile, not the table.
    store.command(f"INSERT INTO `{store.database}`.deals VALUES {ROW}")
    assert reader.query(f"SELECT count() FROM `{reader.database}`.deals FINAL") == [(1,)]


def test_report_queries_bind_the_organization(store: analytics.Client) -> None:
    for organization in (1, 2):
        store.command(
            f"INSERT INTO `{store.database}`.companies VALUES ({organization}, 7, NULL, now64(6), 1, 0)"
        )
    sql = (
        f"SELECT organization_id FROM `{store.database}`.companies FINAL "
        "WHERE organization_id = {organization_id:UInt64}"
    )
    assert analytics.read(sql, {"organization_id": 2}) == [(2,)]
    with pytest.raises(ValueError, match="organization"):
        analytics.read(f"SELECT organization_id FROM `{store.database}`.companies FINAL", {})
    with pytest.raises(AnalyticsError):  # a text where a UInt64 is bound: ClickHouse refuses it
        analytics.read(sql, {"organization_id": "2 OR 1 = 1"})


def test_a_query_over_a_limit_is_a_clear_error(store: analytics.Client, settings: object) -> None:
    settings.ANALYTICS_MAX_RESULT_ROWS = 10  # type: ignore[attr-defined]
    rows = "SELECT number FROM numbers(100) WHERE {organization_id:UInt64} = 1"
    with pytest.raises(AnalyticsLimitExceeded) as too_many:
        analytics.read(rows, {"organization_id": 1})
    assert too_many.value.limit == "max_result_rows"
    settings.ANALYTICS_MAX_RESULT_ROWS = 100_000  # type: ignore[attr-defined]
    settings.ANALYTICS_MAX_MEMORY_USAGE = 20_000_000  # type: ignore[attr-defined]
    heavy = (
        "SELECT count() FROM (SELECT groupArray(number) FROM numbers(10000000) "
        "WHERE {organization_id:UInt64} = 1)"
    )
    with pytest.raises(AnalyticsLimitExceeded) as memory:
        analytics.read(heavy, {"organization_id": 1})
    assert memory.value.limit == "max_memory_usage"
    settings.ANALYTICS_MAX_MEMORY_USAGE = 2_000_000_000  # type: ignore[attr-defined]
    settings.ANALYTICS_MAX_EXECUTION_TIME = 1  # type: ignore[attr-defined]
    slow = (
        "SELECT sum(sleepEachRow(0.5)) FROM numbers(10) WHERE {organization_id:UInt64} = 1 "
        "SETTINGS max_block_size = 1"
    )
    with pytest.raises(AnalyticsLimitExceeded) as timeout:
        analytics.read(slow, {"organization_id": 1})
    assert timeout.value.limit == "max_execution_time"
    # The limits are the reader's settings, not a state left behind: a small query still runs.
    assert analytics.read("SELECT {organization_id:UInt64}", {"organization_id": 5}) == [(5,)]


def test_urls_are_checked() -> None:
    assert analytics.parse_url("clickhouse://reader:s%40cret@ch:8123/stats").password == "s@cret"
    assert analytics.parse_url("clickhouses://ch/stats").port == 8443
    assert analytics.parse_url("chdb:///var/lib/stratus/chdb").database == "stratus"
    for bad in ("chdb://relative", "mysql://x/y", "clickhouse:///nohost", "chdb:///x?database=a-b"):
        with pytest.raises(ValueError):
            analytics.parse_url(bad)


def test_a_server_that_does_not_answer_is_unavailable(settings: object) -> None:
    """The server transport (clickhouse-connect) against a closed local port: the error class
    a reports engine turns into a 503. (No ClickHouse server can run here: see the docs.)"""
    from testsupport.processes import free_port

    settings.ANALYTICS_CONNECT_TIMEOUT = 1  # type: ignore[attr-defined]
    with pytest.raises(analytics.AnalyticsUnavailable):
        analytics.connect(f"clickhouse://reader:secret@127.0.0.1:{free_port()}/stratus", read_only=True)


def test_the_chdb_session_is_taken_in_the_order_asked() -> None:
    """Threads sharing the embedded session get it first come, first served."""
    lock = analytics.FairLock()
    order: list[int] = []
    threads = []
    lock.__enter__()  # held: every thread below waits

    def take(index: int) -> None:
        with lock:
            order.append(index)

    for index in range(5):
        threads.append(threading.Thread(target=take, args=(index,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while len(lock._waiting) < index + 1:  # queued before the next one starts
            assert time.monotonic() < deadline, "a thread did not queue"
            time.sleep(0.001)
    lock.__exit__()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]
    with lock:  # free again
        assert not lock._waiting
