"""Idempotency keys belong to the principal that sent them (a token, or a session's user).

Rows stored before had no principal and could be replayed to any member of the organization:
they are dropped (they are a retry cache that expires within a day anyway).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.state import StateApps
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def drop_unbound_keys(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("api", "IdempotencyKey").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken"),
        ("api", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="idempotencykey", name="api_idempotency_key_unique"),
        migrations.RunPython(drop_unbound_keys, migrations.RunPython.noop, elidable=True),
        migrations.AddField(
            model_name="idempotencykey",
            name="token",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.apitoken",
            ),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(
                condition=models.Q(token__isnull=True),
                fields=("organization", "user", "key"),
                name="api_idempotency_key_unique_per_session_user",
            ),
        ),
        migrations.AddConstraint(
            model_name="idempotencykey",
            constraint=models.UniqueConstraint(
                condition=models.Q(token__isnull=False),
                fields=("organization", "token", "key"),
                name="api_idempotency_key_unique_per_token",
            ),
        ),
    ]
