"""The campaigns report's counters: recipients by campaign and state, events by campaign and day.

Kept by triggers on ``campaigns_recipient`` (``stratus.campaigns.counters``), filled here from
the rows. On PostgreSQL, ``campaigns_recipient_failed`` (partial: the failed recipients) is
what the report reads to tell bounces from other failures (an index-only scan of the failed
ones, each looked up in the suppression list, instead of the campaign's every recipient).
"""

import django.db.models.deletion
from django.db import migrations, models

from stratus.campaigns.counters import COUNTERS
from stratus.crm import counters


def forward(apps, schema_editor):
    for counter in COUNTERS:
        counters.install(counter, schema_editor.connection)
        counters.rebuild(counter, schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS campaigns_recipient_failed "
            "ON campaigns_recipient (campaign_id) INCLUDE (organization_id, email) WHERE state = 'failed'"
        )
        schema_editor.execute("ANALYZE campaigns_campaignday")
        schema_editor.execute("ANALYZE campaigns_campaignstatecount")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS campaigns_recipient_failed")
    for counter in COUNTERS:
        counters.uninstall(counter, schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_invitations_signup_default_org"),
        ("campaigns", "0002_report_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("metric", models.CharField(max_length=12)),
                ("total", models.IntegerField()),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="campaigns.campaign"
                    ),
                ),
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
                        fields=("organization", "campaign", "day", "metric"), name="campaigns_campaignday_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CampaignStateCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("state", models.CharField(max_length=10)),
                ("total", models.IntegerField()),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="campaigns.campaign"
                    ),
                ),
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
                        fields=("organization", "campaign", "state"), name="campaigns_campaignstate_key"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
