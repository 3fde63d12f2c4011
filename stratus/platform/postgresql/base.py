"""Django's PostgreSQL backend with a pool check that costs no round trip on a quiet connection.

Django checks a pooled connection on every checkout (``CONN_HEALTH_CHECKS`` with the pool) by
sending an empty query: one extra round trip to the database per request. An idle, healthy
connection has nothing to read; when the server goes away (a restart, ``pg_terminate_backend``,
a crash) it sends a FATAL message or closes the socket, and the socket becomes readable. So a
connection whose socket is quiet is handed out as is, and any other goes through the full check,
which raises and makes the pool replace it. A connection broken between the check and its first
query fails the same way as with the empty query (that race exists either way).
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg import pq
from psycopg_pool import ConnectionPool


def _quiet(conn: psycopg.Connection[Any]) -> bool:
    """True if the connection is open, idle, and the server has sent nothing since its last reply."""
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        return False
    if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    if not hasattr(select, "poll"):
        return False
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, psycopg.Error):
        return False


def check_pooled_connection(conn: psycopg.Connection[Any]) -> None:
    """The pool's check: raise if ``conn`` is broken, with a round trip only when in doubt."""
    if _quiet(conn):
        return
    ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool[Any] | None:
        pools: dict[str, ConnectionPool[Any]] = self._connection_pools  # type: ignore[attr-defined]
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if (
            self.alias == NO_DB_ALIAS
            or not pool_options
            or not self.settings_dict["CONN_HEALTH_CHECKS"]
            or self.alias in pools
        ):
            return super().pool  # type: ignore[misc]
        # As Django's backend builds it (django/db/backends/postgresql/base.py), with the check above.
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
            return super().pool  # type: ignore[misc]  # raises ImproperlyConfigured
        options = {} if pool_options is True else dict(pool_options)
        connect_kwargs = self.get_connection_params()
        connect_kwargs["autocommit"] = True
        pool: ConnectionPool[Any] = ConnectionPool(
            kwargs=connect_kwargs,
            open=False,
            configure=self._configure_connection,  # type: ignore[attr-defined]
            check=check_pooled_connection,
            **options,
        )
        return pools.setdefault(self.alias, pool)
