"""The GIN index behind search by words on activities (``selectors._matching_activities``), on
PostgreSQL: the expression must stay the same as ``selectors.ACTIVITY_DOCUMENT``."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX = "knowledge_activity_words"


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON crm_activity USING gin "
            "(to_tsvector('english'::regconfig, subject || ' ' || body))"
        )


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0001_initial"),
        ("crm", "0008_deal_stay"),
    ]

    operations = [migrations.RunPython(create, drop)]
