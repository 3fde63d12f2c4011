"""The activity report's summary: activities by organization, UTC day, assignee and kind.

Kept by triggers on ``crm_activity`` (``stratus.crm.counters``), filled here from the rows.
On PostgreSQL, ``crm_activityday_report`` covers the report's read (a date range of one
organization: an index-only scan).
"""

import django.db.models.deletion
from django.db import migrations, models

from stratus.crm.counters import ACTIVITY_DAYS
from stratus.crm import counters


def forward(apps, schema_editor):
    for counter in (ACTIVITY_DAYS,):
        counters.install(counter, schema_editor.connection)
        counters.rebuild(counter, schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS crm_activityday_report "
            "ON crm_activityday (organization_id, day) INCLUDE (assignee_key, kind, total)"
        )
        schema_editor.execute("ANALYZE crm_activityday")


def backward(apps, schema_editor):
    for counter in (ACTIVITY_DAYS,):
        counters.uninstall(counter, schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_invitations_signup_default_org"),
        ("crm", "0006_report_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ActivityDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("assignee_key", models.BigIntegerField()),
                ("kind", models.CharField(max_length=10)),
                ("total", models.IntegerField()),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "day", "assignee_key", "kind"), name="crm_activityday_key"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
