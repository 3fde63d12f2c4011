"""PostgreSQL: covering indexes for the reports (``reports.engines.database``).

Each holds every column its report's statements read, in the order the report's date range
selects, so the report reads an index range (an index-only scan) instead of the wide deal and
activity rows (a deal row carries its search documents):

- ``crm_deal_report_created``: the deals created in a range (funnel and velocity cohorts);
- ``crm_deal_report_closed``: the deals closed in a range (won and lost), partial: only the
  closed ones;
- ``crm_activity_open_tasks``: open tasks by due date (the activity report's overdue
  tasks), partial: closing a task leaves it.

Nothing happens on SQLite. ``bench/results/2026-12-06-reports-1M.md`` has the figures and
``bench/results/explain/reports-*.txt`` the plans.
"""

from django.db import migrations

INDEXES = {
    "crm_deal_report_created": (
        "ON crm_deal (organization_id, created_at) "
        "INCLUDE (id, pipeline_id, stage_id, owner_id, currency, closed_at)"
    ),
    "crm_deal_report_closed": (
        "ON crm_deal (organization_id, closed_at) "
        "INCLUDE (id, pipeline_id, stage_id, owner_id, currency, value, lost_reason) WHERE closed_at IS NOT NULL"
    ),
    "crm_activity_open_tasks": (
        "ON crm_activity (organization_id, due_at) INCLUDE (id, assignee_id) WHERE kind = 'task' AND NOT done"
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
