"""The velocity's and funnel's summaries without joins.

- ``crm.DealReach``: one row per deal with its filter columns and the stages it reached, kept by
  triggers on ``crm_deal`` (``stratus.crm.reach``); ``crm_dealreach_org_created`` covers the
  funnel's read, ``crm_dealreach_closed`` the velocity's creation to won (a date range of one
  organization).
- ``crm.DealStay`` gains its deal's pipeline, owner and currency (the same triggers copy their
  changes) and its duration; ``crm_dealstay_ended`` (the ended stays by stage and duration) covers the velocity's read
  and replaces ``crm_dealstay_org_created``.

Both are filled here from the deals and their timelines (``stays.rebuild``, ``reach.rebuild``).
"""

import django.db.models.deletion
from django.db import migrations, models

from stratus.crm import reach, stays


def forward(apps, schema_editor):
    reach.install(schema_editor.connection)
    stays.rebuild(
        deals=apps.get_model("crm", "Deal"),
        entries=apps.get_model("crm", "TimelineEntry"),
        stays=apps.get_model("crm", "DealStay"),
    )
    reach.rebuild(schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE crm_dealreach")
        schema_editor.execute("ANALYZE crm_dealstay")


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
                ('deal', models.OneToOneField(on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='crm.deal')),
                ('created_at', models.DateTimeField()),
                ('pipeline_id', models.BigIntegerField()),
                ('stage_id', models.BigIntegerField()),
                ('owner_id', models.BigIntegerField(blank=True, null=True)),
                ('currency', models.CharField(max_length=3)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('reached', models.TextField()),
            ],
        ),
        migrations.RemoveIndex(
            model_name='dealstay',
            name='crm_dealstay_org_created',
        ),
        migrations.AddField(
            model_name='dealstay',
            name='currency',
            field=models.CharField(blank=True, default='', max_length=3),
        ),
        migrations.AddField(
            model_name='dealstay',
            name='owner_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dealstay',
            name='pipeline_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='dealstay',
            name='seconds',
            field=models.FloatField(blank=True, help_text='left_at - entered_at, once ended.', null=True),
        ),
        migrations.AddIndex(
            model_name='dealstay',
            index=models.Index(condition=models.Q(('left_at__isnull', False)), fields=['organization', 'stage_id', 'seconds'], include=('deal_created_at', 'pipeline_id', 'owner_id', 'currency'), name='crm_dealstay_ended'),
        ),
        migrations.AddField(
            model_name='dealreach',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization'),
        ),
        migrations.AddIndex(
            model_name='dealreach',
            index=models.Index(fields=['organization', 'created_at'], include=('pipeline_id', 'stage_id', 'owner_id', 'currency', 'closed_at', 'reached'), name='crm_dealreach_org_created'),
        ),
        migrations.AddIndex(
            model_name='dealreach',
            index=models.Index(condition=models.Q(('closed_at__isnull', False)), fields=['organization', 'created_at'], include=('closed_at', 'stage_id', 'pipeline_id', 'owner_id', 'currency'), name='crm_dealreach_closed'),
        ),
        migrations.RunPython(forward, backward),
]
