"""PostgreSQL: the index the activity report's overdue tasks read (``reports.engines.database``).

Open tasks by due date with their assignee: the overdue count of an organization reads only
its open tasks (a tenth of the activities in the benchmark data set, ``bench/reports.py``)
instead of every activity. Partial, so closing a task leaves it. Nothing happens on SQLite.
"""

from django.db import migrations

INDEXES = {
    "crm_activity_open_tasks": (
        "ON crm_activity (organization_id, due_at) INCLUDE (assignee_id) WHERE kind = 'task' AND NOT done"
    ),
}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0005_deal_tags")]

    operations = [migrations.RunPython(forward, backward)]
