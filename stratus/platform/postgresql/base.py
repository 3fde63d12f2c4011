"""Django's PostgreSQL backend with a pool check that costs no round trip on a quiet connection,
and date-times read by psycopg's C parser.

Django checks a pooled connection on every checkout (``CONN_HEALTH_CHECKS`` with the pool) by
sending an empty query: one extra round trip to the database per request. An idle, healthy
connection has nothing to read; when the server goes away (a restart, ``pg_terminate_backend``,
a crash) it sends a FATAL message or closes the socket, and the socket becomes readable. So a
connection whose socket is quiet is handed out as is, and any other goes through the full check,
which raises and makes the pool replace it. A connection broken between the check and its first
query fails the same way as with the empty query (that race exists either way).

Django reads ``timestamptz`` columns with a subclass of psycopg's pure-Python loader (it sets
the time zone of the result), which parses each value with regular expressions; psycopg only
substitutes its C loader for its own classes. The loader here does what Django's does on top
of the C parser: the same values, with the same ``tzinfo``, at a fraction of the cost per row.
"""

from __future__ import annotations

import functools
import select
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import get_adapters_template
from psycopg import _cmodule, adapt, pq
from psycopg_pool import ConnectionPool

TIMESTAMPTZ_OID = adapt.AdaptersMap(psycopg.adapters).types["timestamptz"].oid


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


@functools.lru_cache
def adapters_template(use_tz: bool, timezone: Any) -> adapt.AdaptersMap:
    """Django's adapters for ``timezone``, with the C ``timestamptz`` parser when psycopg has one."""
    template = get_adapters_template(use_tz, timezone)
    c_module = getattr(_cmodule, "_psycopg", None)
    if c_module is None:
        return template

    zone = template.get_loader(TIMESTAMPTZ_OID, pq.Format.TEXT).timezone
    c_loader = c_module.TimestamptzLoader

    class CTzLoader(adapt.Loader):
        timezone = zone  # Django compares this attribute when it creates a cursor (create_cursor)

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._parse = c_loader(oid, context).load

        def load(self, data: Any) -> Any:
            return self._parse(data).replace(tzinfo=zone)

    adapters = adapt.AdaptersMap(template)
    adapters.register_loader(TIMESTAMPTZ_OID, CTzLoader)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if "context" in params:
            params["context"] = adapters_template(settings.USE_TZ, self.timezone)
        return params

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
