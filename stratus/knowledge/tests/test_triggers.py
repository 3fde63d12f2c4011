"""The outbox triggers: inserts and deletes always, updates only of a watched column."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from stratus.crm.models import Company
from stratus.knowledge import triggers
from stratus.knowledge.models import OutboxEntry


@pytest.mark.django_db
def test_configured_database_triggers(organization: Any) -> None:
    company = Company.objects.create(organization=organization, name="Acme")
    assert list(OutboxEntry.objects.values_list("record_type", "record_id")) == [("company", company.pk)]
    Company.objects.filter(pk=company.pk).update(phone="+1 555 0100")  # not indexed
    company.refresh_from_db()
    company.save()  # every column written, none changed
    assert OutboxEntry.objects.count() == 1
    Company.objects.filter(pk=company.pk).update(description="Ships freight.")
    pk = company.pk
    company.delete()
    rows = list(OutboxEntry.objects.order_by("pk").values_list("organization_id", "record_type", "record_id"))
    assert rows == [(organization.pk, "company", pk)] * 3


def test_sqlite_triggers() -> None:
    """The embedded default's triggers, on SQLite itself."""
    source = triggers.Source("company", "crm_company", ("name", "description"))
    db = sqlite3.connect(":memory:")
    columns = "id INTEGER PRIMARY KEY, organization_id INT, name TEXT, description TEXT, phone TEXT"
    db.execute(f"CREATE TABLE crm_company ({columns})")
    db.execute(
        f"CREATE TABLE {triggers.OUTBOX} (id INTEGER PRIMARY KEY, organization_id INT, record_type TEXT, "
        "record_id INT, created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
    )
    for statement in triggers.install_sql(source, "sqlite"):
        db.execute(statement)
    db.execute("INSERT INTO crm_company VALUES (7, 3, 'Acme', '', '')")
    db.execute("UPDATE crm_company SET phone = '1', name = 'Acme' WHERE id = 7")  # nothing indexed changed
    db.execute("UPDATE crm_company SET description = NULL WHERE id = 7")  # '' -> NULL is a change
    db.execute("DELETE FROM crm_company WHERE id = 7")
    rows = db.execute(f"SELECT organization_id, record_type, record_id FROM {triggers.OUTBOX}").fetchall()
    assert rows == [(3, "company", 7)] * 3
