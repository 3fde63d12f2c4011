"""PostgreSQL search indexes: full-text (GIN on a tsvector expression) and trigram (pg_trgm).

The expressions here must stay identical to those in ``stratus/crm/search.py`` so the
planner uses the indexes (a test checks the plans). On SQLite this migration does nothing
and search falls back to ``icontains``.
"""

from django.db import migrations

CONTACT_DOCUMENT = (
    "to_tsvector('simple'::regconfig, first_name || ' ' || last_name || ' ' || email || ' ' || job_title)"
)
CONTACT_TEXT = "lower(first_name || ' ' || last_name || ' ' || email)"
COMPANY_DOCUMENT = "to_tsvector('simple'::regconfig, name || ' ' || domain)"
COMPANY_TEXT = "lower(name || ' ' || domain)"
DEAL_DOCUMENT = "to_tsvector('simple'::regconfig, title)"
DEAL_TEXT = "lower(title)"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX crm_contact_search_fts ON crm_contact USING gin (({CONTACT_DOCUMENT}))",
    f"CREATE INDEX crm_contact_search_trgm ON crm_contact USING gin (({CONTACT_TEXT}) gin_trgm_ops)",
    "CREATE INDEX crm_contact_custom_fields ON crm_contact USING gin (custom_fields jsonb_path_ops)",
    f"CREATE INDEX crm_company_search_fts ON crm_company USING gin (({COMPANY_DOCUMENT}))",
    f"CREATE INDEX crm_company_search_trgm ON crm_company USING gin (({COMPANY_TEXT}) gin_trgm_ops)",
    "CREATE INDEX crm_company_custom_fields ON crm_company USING gin (custom_fields jsonb_path_ops)",
    f"CREATE INDEX crm_deal_search_fts ON crm_deal USING gin (({DEAL_DOCUMENT}))",
    f"CREATE INDEX crm_deal_search_trgm ON crm_deal USING gin (({DEAL_TEXT}) gin_trgm_ops)",
    "CREATE INDEX crm_deal_custom_fields ON crm_deal USING gin (custom_fields jsonb_path_ops)",
]
INDEXES = [statement.split()[2] for statement in FORWARD[1:]]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
