"""The deal stays (``crm.DealStay``), a summary of the deals' stage history for the reports,
filled from the timeline (``crm.stays.rebuild``: the replay of each deal's ``moved`` entries;
running it again gives the same rows)."""

import django.db.models.deletion
from django.db import migrations, models


def fill(apps, schema_editor):
    from stratus.crm import stays

    stays.rebuild(
        deals=apps.get_model("crm", "Deal"),
        entries=apps.get_model("crm", "TimelineEntry"),
        stays=apps.get_model("crm", "DealStay"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_invitations_signup_default_org"),
        ("crm", "0007_activity_day"),
    ]

    operations = [
        migrations.CreateModel(
            name="DealStay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("stage_id", models.BigIntegerField(help_text="The stage (kept when the stage is deleted).")),
                ("deal_created_at", models.DateTimeField()),
                ("entered_at", models.DateTimeField()),
                ("left_at", models.DateTimeField(blank=True, null=True)),
                (
                    "deal",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.deal",
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
                "indexes": [
                    models.Index(
                        fields=["organization", "deal_created_at"],
                        include=("deal", "stage_id", "entered_at", "left_at"),
                        name="crm_dealstay_org_created",
                    ),
                    models.Index(fields=["deal", "entered_at", "id"], name="crm_dealstay_deal"),
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
