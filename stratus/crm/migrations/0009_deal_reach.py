"""The funnel's summary (``crm.DealReach``): one row per deal with its filter columns and the
stages it reached, kept by triggers on ``crm_deal`` (``stratus.crm.reach``), filled here from the
deals and their stays. On PostgreSQL ``crm_dealreach_org_created`` covers the funnel's read (a
date range of one organization: an index-only scan, no join)."""

import django.db.models.deletion
from django.db import migrations, models

from stratus.crm import reach


def forward(apps, schema_editor):
    reach.install(schema_editor.connection)
    reach.rebuild(schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE crm_dealreach")


def backward(apps, schema_editor):
    reach.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ('accounts', '0003_invitations_signup_default_org'),
        ('crm', '0008_deal_stay'),
    ]

    operations = [
        migrations.CreateModel(
            name='DealReach',
            fields=[
                ('deal', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='crm.deal')),
                ('created_at', models.DateTimeField()),
                ('pipeline_id', models.BigIntegerField()),
                ('stage_id', models.BigIntegerField()),
                ('owner_id', models.BigIntegerField(blank=True, null=True)),
                ('currency', models.CharField(max_length=3)),
                ('reached', models.TextField()),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization')),
            ],
            options={
                'indexes': [models.Index(fields=['organization', 'created_at'], include=('pipeline_id', 'stage_id', 'owner_id', 'currency', 'reached'), name='crm_dealreach_org_created')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
