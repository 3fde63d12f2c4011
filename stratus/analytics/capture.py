"""The triggers that write the outbox (PostgreSQL only).

One PL/pgSQL function, ``analytics_capture()``, fired after every insert, delete and update of
a mirrored column of each source table (``schema.TABLES``), writes one ``analytics_outbox`` row
in the writer's own transaction: so a change is shipped if and only if it commits, whoever
wrote it (the services, queryset ``update()``/``delete()``, ``bulk_create``, cascades, raw SQL).
While the stream is not capturing (analytics not set up) the function returns at once and the
outbox stays empty. Not seen: ``COPY`` or writes with ``session_replication_role = replica``
(``bench/generate.py``); ``manage.py analytics_backfill`` covers those.

SQLite (the embedded default) has no triggers here: analytics needs PostgreSQL
(``stratus.analytics.checks``).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from stratus.analytics.models import STREAM
from stratus.analytics.schema import TABLES, Table

FUNCTION = "analytics_capture"

XID = "pg_current_xact_id()::text::bigint"

_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM analytics_stream WHERE name = '{STREAM}' AND capturing) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    INSERT INTO analytics_outbox (source, row_id, organization_id, xid, created_at)
    VALUES (TG_TABLE_NAME, changed.id, changed.organization_id, {XID}, clock_timestamp());
    RETURN NULL;
END $$
"""  # noqa: S608 - constants, no input


def _trigger(table: Table) -> str:
    return f"analytics_capture_{table.source}"


def install_sql(tables: tuple[Table, ...] = TABLES) -> list[str]:
    statements = [_FUNCTION_SQL]
    for table in tables:
        statements += [
            f"DROP TRIGGER IF EXISTS {_trigger(table)} ON {table.source}",
            f"CREATE TRIGGER {_trigger(table)} AFTER INSERT OR DELETE OR UPDATE OF "
            f"{', '.join(table.watched())} ON {table.source} FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
        ]
    return statements


def uninstall_sql(tables: tuple[Table, ...] = TABLES) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {_trigger(t)} ON {t.source}" for t in tables] + [
        f"DROP FUNCTION IF EXISTS {FUNCTION}()"
    ]


def install(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in install_sql():
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in uninstall_sql():
            cursor.execute(statement)
