"""The pool check of ``stratus.platform.postgresql``: no round trip on a quiet connection, and a
connection the server dropped is replaced before a request gets it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from psycopg_pool import ConnectionPool

from stratus.platform.postgresql import base

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pool only"),
]


@pytest.fixture
def pool() -> Any:
    kwargs = connection.get_connection_params()
    kwargs["autocommit"] = True
    with ConnectionPool(kwargs=kwargs, min_size=1, max_size=1, check=base.check_pooled_connection) as opened:
        opened.wait()
        yield opened


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    original = ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        calls.append(conn)
        original(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return calls


def test_the_settings_use_the_backend_with_the_pool_check() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "stratus.platform.postgresql"
    default = connections["default"]
    assert isinstance(default, base.DatabaseWrapper)
    if default.settings_dict["OPTIONS"].get("pool"):
        assert default.pool is not None
        assert default.pool._check is base.check_pooled_connection


def test_a_quiet_connection_is_handed_out_without_a_round_trip(pool: Any, full_checks: list[object]) -> None:
    with pool.connection() as conn:
        first = conn.info.backend_pid
    with pool.connection() as conn:
        assert conn.info.backend_pid == first
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert full_checks == []


def test_a_connection_the_server_dropped_is_replaced_before_use(pool: Any, full_checks: list[object]) -> None:
    with pool.connection() as conn:
        dropped = conn.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [dropped])  # waits until it is gone
    with pool.connection() as conn:
        assert conn.info.backend_pid != dropped
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert len(full_checks) == 1  # the dropped connection got the full check, and failed it


def test_date_times_read_with_the_c_parser_equal_djangos() -> None:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    samples = [
        "2026-01-02 03:04:05.678901+02",
        "1999-12-31 23:59:59+00",
        "0001-01-01 00:00:00+00",
        "2026-06-30 12:00:00-09:30",
    ]
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(base.TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)
        assert loader is not None
        assert loader.__name__ == "CTzLoader"
        cursor.execute("SELECT " + ", ".join(["%s::timestamptz"] * len(samples)), samples)
        values = cursor.fetchone()
        reference = type("Reference", (BaseTzLoader,), {"timezone": connection.timezone})(
            base.TIMESTAMPTZ_OID, cursor.cursor
        )
        cursor.execute("SELECT " + ", ".join(["(%s::timestamptz)::text"] * len(samples)), samples)
        texts = cursor.fetchone()
    assert list(values) == [reference.load(text.encode()) for text in texts]
    assert all(value.tzinfo is connection.timezone for value in values)
