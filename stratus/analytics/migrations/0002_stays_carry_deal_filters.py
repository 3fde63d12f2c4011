"""The deal stays' mirror carries the deal's pipeline, owner and currency (the velocity's
filters, copied on ``crm_dealstay`` by the database): the capture trigger watches them, and a
store already capturing gets every stay again (shipped with its new columns)."""

from django.db import migrations

from stratus.analytics import capture

_REQUEUE_SQL = f"""
INSERT INTO analytics_outbox (source, row_id, organization_id, xid, created_at)
SELECT 'crm_dealstay', id, organization_id, {capture.XID}, clock_timestamp() FROM crm_dealstay
"""  # noqa: S608 - constants


def watch_the_new_columns(apps, schema_editor):
    capture.install(schema_editor.connection)
    if schema_editor.connection.vendor != "postgresql":
        return
    if apps.get_model("analytics", "Stream").objects.filter(name="outbox", capturing=True).exists():
        schema_editor.execute(_REQUEUE_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(watch_the_new_columns, migrations.RunPython.noop),
    ]
