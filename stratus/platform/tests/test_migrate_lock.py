from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from django.db.migrations.loader import MigrationLoader

from stratus.platform.locks import advisory_key
from testsupport.processes import PROJECT_DIR, child_env, scratch_database

pytestmark = pytest.mark.subprocess


def test_advisory_keys_are_stable_and_distinct() -> None:
    assert advisory_key("stratus:migrate") == advisory_key("stratus:migrate")
    assert advisory_key("stratus:migrate") != advisory_key("stratus:other")
    assert -(2**63) <= advisory_key("x") < 2**63


@pytest.mark.django_db
def test_two_replicas_migrating_a_fresh_database_apply_each_migration_once() -> None:
    expected = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    with scratch_database() as url:
        env = child_env({"DATABASE_URL": url, "REDIS_URL": ""})
        replicas = [
            subprocess.Popen(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=PROJECT_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [replica.communicate(timeout=300) for replica in replicas]
        for replica, (out, err) in zip(replicas, outputs, strict=True):
            assert replica.returncode == 0, out + err

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT app, name, count(*) FROM django_migrations GROUP BY app, name"
            ).fetchall()
        applied = {(app, name): count for app, name, count in rows}
        assert set(applied) == expected
        assert all(count == 1 for count in applied.values()), applied
        # Exactly one replica applied anything; the other found nothing left to do.
        applying = [out for out, _ in outputs if "Applying " in out]
        assert len(applying) == 1, outputs
