"""Triggers that write an outbox entry in the statement that changes indexed text.

One trigger set per source table (PostgreSQL: one PL/pgSQL function; SQLite: one trigger per
operation). An insert or a delete always records the row; an update records it only when a
watched column changed (Django's ``save()`` sets every column, so ``UPDATE OF`` alone would
record every save). Like ``crm.counters``, this covers the services, queryset ``update()`` and
``delete()``, ``bulk_create``, the cascades of Django's collector and raw SQL; it does not see
``COPY`` or writes under ``session_replication_role = replica``: ``manage.py search_reindex``
rebuilds from the rows after those.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

OUTBOX = "knowledge_outboxentry"


@dataclass(frozen=True)
class Source:
    record_type: str
    table: str
    watched: tuple[str, ...]  # the columns whose change changes what is indexed
    id_column: str = "id"

    @property
    def name(self) -> str:
        return f"knowledge_outbox_{self.table}"


SOURCES = (
    Source(
        "contact", "crm_contact", ("first_name", "last_name", "email", "job_title", "company_id", "owner_id")
    ),
    Source("company", "crm_company", ("name", "description", "industry", "owner_id")),
    Source("deal", "crm_deal", ("title", "lost_reason", "owner_id")),
    Source(
        "activity",
        "crm_activity",
        ("kind", "subject", "body", "assignee_id", "contact_id", "company_id", "deal_id"),
    ),
    Source("campaign", "campaigns_campaign", ("name", "subject", "body_text", "body_html", "created_by_id")),
    Source(
        "document",
        "documents_document",
        ("name", "status", "uploaded_by_id", "contact_id", "company_id", "deal_id"),
    ),
    Source("document", "knowledge_documenttext", ("pages",), id_column="document_id"),
)


def _insert(source: Source, row: str) -> str:
    return (
        f"INSERT INTO {OUTBOX} (organization_id, record_type, record_id) "  # noqa: S608 - model metadata
        f"VALUES ({row}.organization_id, '{source.record_type}', {row}.{source.id_column});"
    )


def install_sql(source: Source, vendor: str) -> list[str]:
    """The statements that create the source's triggers (after dropping any older ones)."""
    watched = ", ".join(source.watched)
    if vendor == "postgresql":
        old = ", ".join(f"OLD.{c}" for c in source.watched)
        new = ", ".join(f"NEW.{c}" for c in source.watched)
        return [
            *uninstall_sql(source, vendor),
            f"CREATE FUNCTION {source.name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' THEN {_insert(source, 'OLD')} "
            f"ELSIF TG_OP = 'INSERT' OR ROW({old}, 0) IS DISTINCT FROM ROW({new}, 0) "
            f"THEN {_insert(source, 'NEW')} "
            "END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {source.name} AFTER INSERT OR DELETE OR UPDATE OF {watched} "
            f"ON {source.table} FOR EACH ROW EXECUTE FUNCTION {source.name}()",
        ]
    same = " AND ".join(f"(OLD.{c} IS NEW.{c})" for c in source.watched)
    return [
        *uninstall_sql(source, vendor),
        f"CREATE TRIGGER {source.name}_insert AFTER INSERT ON {source.table} "
        f"BEGIN {_insert(source, 'NEW')} END",
        f"CREATE TRIGGER {source.name}_delete AFTER DELETE ON {source.table} "
        f"BEGIN {_insert(source, 'OLD')} END",
        f"CREATE TRIGGER {source.name}_update AFTER UPDATE OF {watched} ON {source.table} "
        f"WHEN NOT ({same}) BEGIN {_insert(source, 'NEW')} END",
    ]


def uninstall_sql(source: Source, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {source.name} ON {source.table}",
            f"DROP FUNCTION IF EXISTS {source.name}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {source.name}_{op}" for op in ("insert", "delete", "update")]


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for source in SOURCES:
            for statement in install_sql(source, connection.vendor):
                cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for source in SOURCES:
            for statement in uninstall_sql(source, connection.vendor):
                cursor.execute(statement)


def backfill(connection: BaseDatabaseWrapper) -> None:
    """An outbox entry for every existing record (the rows written before the triggers)."""
    with connection.cursor() as cursor:
        for source in SOURCES:
            if source.id_column != "id":
                continue
            cursor.execute(
                f"INSERT INTO {OUTBOX} (organization_id, record_type, record_id) "  # noqa: S608 - constants
                f"SELECT organization_id, '{source.record_type}', id FROM {source.table}"
            )
