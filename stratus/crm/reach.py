"""The funnel's summary (``crm.DealReach``): each deal's filter columns and the stages it reached.

Database triggers on ``crm_deal`` keep one ``crm_dealreach`` row per deal, in the statement of
every write, whoever writes (the services, queryset ``update()`` / ``delete()``, the cascades and
``SET NULL`` of Django's collector, raw SQL):

- a deal inserted: its row, ``reached`` holding its stage;
- a deal's ``organization_id``, ``created_at``, ``pipeline_id``, ``stage_id``, ``owner_id``,
  ``currency`` or ``closed_at`` changed: copied; a stage not yet in ``reached`` is added; the
  creation, pipeline, owner and currency are copied to the deal's stays too (the velocity
  filters the stays by them without a join);
- a deal deleted: its row deleted.

``reached`` is the set of stages the deal's stays (``crm.stays``) are in: the deal services
start a stay exactly when the deal's stage changes. What the triggers do not see (``COPY``,
``session_replication_role = replica`` as ``bench/generate.py`` loads its data):
:func:`rebuild` recomputes the rows from the deals and their stays (``manage.py
reports_rebuild_summaries``); it is idempotent.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

NAME = "crm_dealreach_sync"
TABLE = "crm_dealreach"
COPIED = ("organization_id", "created_at", "pipeline_id", "stage_id", "owner_id", "currency", "closed_at")
# The deal's columns its stays (``crm.DealStay``) carry for the velocity: stay column, deal column.
STAY_COPIED = (
    ("deal_created_at", "created_at"),
    ("pipeline_id", "pipeline_id"),
    ("owner_id", "owner_id"),
    ("currency", "currency"),
)


def _contains(vendor: str, row: str) -> str:
    """True when ``reached`` already holds the row's stage."""
    needle = f"',' || {row}.stage_id || ','"
    return f"strpos(reached, {needle}) > 0" if vendor == "postgresql" else f"instr(reached, {needle}) > 0"


def _insert(row: str) -> str:
    columns = ", ".join(COPIED)
    values = ", ".join(f"{row}.{c}" for c in COPIED)
    return (
        f"INSERT INTO {TABLE} (deal_id, {columns}, reached) "  # noqa: S608 - constants
        f"VALUES ({row}.id, {values}, ',' || {row}.stage_id || ',');"
    )


def _update(vendor: str) -> str:
    copied = ", ".join(f"{c} = NEW.{c}" for c in COPIED)
    return (
        f"UPDATE {TABLE} SET {copied}, reached = CASE WHEN {_contains(vendor, 'NEW')} THEN reached "  # noqa: S608
        f"ELSE reached || NEW.stage_id || ',' END WHERE deal_id = NEW.id;"
    )


def _update_stays(vendor: str) -> str:
    copied = ", ".join(f"{stay} = NEW.{deal}" for stay, deal in STAY_COPIED)
    if vendor == "postgresql":
        old = ", ".join(stay for stay, _ in STAY_COPIED)
        new = ", ".join(f"NEW.{deal}" for _, deal in STAY_COPIED)
        differs = f"ROW({old}) IS DISTINCT FROM ROW({new})"
    else:
        differs = "NOT (" + " AND ".join(f"{stay} IS NEW.{deal}" for stay, deal in STAY_COPIED) + ")"
    return f"UPDATE crm_dealstay SET {copied} WHERE deal_id = NEW.id AND {differs};"  # noqa: S608 - constants


def _delete(row: str) -> str:
    return f"DELETE FROM {TABLE} WHERE deal_id = {row}.id;"  # noqa: S608 - constants


def _changed(vendor: str) -> str:
    old = ", ".join(f"OLD.{c}" for c in COPIED)
    new = ", ".join(f"NEW.{c}" for c in COPIED)
    if vendor == "postgresql":
        return f"ROW({old}) IS DISTINCT FROM ROW({new})"
    return "NOT (" + " AND ".join(f"OLD.{c} IS NEW.{c}" for c in COPIED) + ")"


def install_sql(vendor: str) -> list[str]:
    """The statements that create the triggers (after dropping any older ones)."""
    watched = ", ".join(COPIED)
    if vendor == "postgresql":
        body = (
            f"IF TG_OP = 'INSERT' THEN {_insert('NEW')} "
            f"ELSIF TG_OP = 'UPDATE' THEN {_update(vendor)} {_update_stays(vendor)} "
            f"ELSE {_delete('OLD')} END IF; RETURN NULL;"
        )
        return [
            *uninstall_sql(vendor),
            f"CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$",
            f"CREATE TRIGGER {NAME}_write AFTER INSERT OR DELETE ON crm_deal "
            f"FOR EACH ROW EXECUTE FUNCTION {NAME}()",
            f"CREATE TRIGGER {NAME}_update AFTER UPDATE OF {watched} ON crm_deal "
            f"FOR EACH ROW WHEN ({_changed(vendor)}) EXECUTE FUNCTION {NAME}()",
        ]
    return [
        *uninstall_sql(vendor),
        f"CREATE TRIGGER {NAME}_insert AFTER INSERT ON crm_deal BEGIN {_insert('NEW')} END",
        f"CREATE TRIGGER {NAME}_delete AFTER DELETE ON crm_deal BEGIN {_delete('OLD')} END",
        f"CREATE TRIGGER {NAME}_update AFTER UPDATE OF {watched} ON crm_deal "
        f"WHEN {_changed(vendor)} BEGIN {_update(vendor)} {_update_stays(vendor)} END",
    ]


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {NAME}_write ON crm_deal",
            f"DROP TRIGGER IF EXISTS {NAME}_update ON crm_deal",
            f"DROP FUNCTION IF EXISTS {NAME}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {NAME}_{op}" for op in ("insert", "delete", "update")]


def rebuild_sql(vendor: str, organization_id: int | None = None) -> list[str]:
    """The statements that recompute the rows from the deals and their stays."""
    scope = "" if organization_id is None else f" WHERE d.organization_id = {int(organization_id)}"
    where = "" if organization_id is None else f" WHERE organization_id = {int(organization_id)}"
    if vendor == "postgresql":
        stages = "string_agg(DISTINCT s.stage_id::text, ',')"
        lock = ["LOCK TABLE crm_deal IN SHARE MODE"]  # writers wait (their triggers would race it)
    else:
        stages = "group_concat(DISTINCT s.stage_id)"
        lock = []
    columns = ", ".join(COPIED)
    selected = ", ".join(f"d.{c}" for c in COPIED)
    return [
        *lock,
        f"DELETE FROM {TABLE}{where}",  # noqa: S608 - constants
        f"INSERT INTO {TABLE} (deal_id, {columns}, reached) "  # noqa: S608 - constants
        f"SELECT d.id, {selected}, "
        f"CASE WHEN count(s.id) = 0 THEN ',' ELSE ',' || {stages} || ',' END "
        f"FROM crm_deal d LEFT JOIN crm_dealstay s ON s.deal_id = d.id{scope} "
        f"GROUP BY d.id, {selected}",
    ]


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor):
            cursor.execute(statement)


def rebuild(connection: BaseDatabaseWrapper, organization_id: int | None = None) -> None:
    with connection.cursor() as cursor:
        for statement in rebuild_sql(connection.vendor, organization_id):
            cursor.execute(statement)


def stage_ids(reached: str) -> set[int]:
    """The stages of a ``reached`` value."""
    return {int(part) for part in reached.split(",") if part}
