"""PostgreSQL: full-text documents as stored generated columns instead of index expressions.

Ranking (``ts_rank``) and the recheck of prefix matches read the stored ``tsvector``
instead of parsing the text again for every candidate row, which is what made search
slow on large organizations. Emails leave the full-text document (every address was a
distinct lexeme that prefix queries had to walk); they are matched by the trigram index.
The columns are not model fields: Django never writes them, PostgreSQL keeps them up to
date. The expressions must stay identical to ``stratus/crm/search.py``. Nothing happens
on SQLite.
"""

from django.db import migrations

DOCUMENTS = {
    "crm_contact": "first_name || ' ' || last_name || ' ' || job_title",
    "crm_company": "name || ' ' || domain",
    "crm_deal": "title",
}
OLD_INDEXES = {
    "crm_contact": (
        "crm_contact_search_fts",
        "to_tsvector('simple'::regconfig, first_name || ' ' || last_name || ' ' || email || ' ' || job_title)",
    ),
    "crm_company": ("crm_company_search_fts", "to_tsvector('simple'::regconfig, name || ' ' || domain)"),
    "crm_deal": ("crm_deal_search_fts", "to_tsvector('simple'::regconfig, title)"),
}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, document in DOCUMENTS.items():
        index, _expression = OLD_INDEXES[table]
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN search_document tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, {document})) STORED"
        )
        schema_editor.execute(f"CREATE INDEX {index} ON {table} USING gin (search_document)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (index, expression) in OLD_INDEXES.items():
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_document")
        schema_editor.execute(f"CREATE INDEX {index} ON {table} USING gin (({expression}))")


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_search_indexes")]

    operations = [migrations.RunPython(forward, backward)]
