"""Backup round trip on real services: PostgreSQL, the suite's S3-compatible endpoint, pg_dump."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from deploy import backup as backups_module
from tests.deploy.conftest import SECRET_KEY
from testsupport.processes import PROJECT_DIR, child_env, manage, scratch_database
from testsupport.servers import S3Endpoint

pytestmark = pytest.mark.cluster


def backup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.backup", *args],
        cwd=PROJECT_DIR,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}  # type: ignore[index]


def object_checksums(endpoint: S3Endpoint, bucket: str) -> dict[str, tuple[str, str]]:
    client = endpoint.client()
    found = {}
    for key in endpoint.keys(bucket):
        obj = client.get_object(Bucket=bucket, Key=key)
        found[key] = (hashlib.sha256(obj["Body"].read()).hexdigest(), obj["ContentType"])
    return found


@pytest.fixture(scope="module")
def installation(s3_endpoint: S3Endpoint) -> Iterator[dict[str, str]]:
    """A production installation with data: migrated database with the demo, documents in a bucket."""
    with scratch_database() as url:
        bucket = s3_endpoint.create_bucket()
        env = {
            "STRATUS_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "localhost",
            "DATABASE_URL": url,
            "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9",
            **s3_endpoint.env(bucket),
        }
        result = manage("migrate", "--noinput", env=env, timeout=900)
        assert result.returncode == 0, result.stderr
        # The demo data (refused in production mode, so loaded with the development profile).
        demo_env = {k: v for k, v in env.items() if k != "STRATUS_ENV"}
        result = manage("load_demo", env=demo_env, timeout=900)
        assert result.returncode == 0, result.stderr
        client = s3_endpoint.client()
        for index in range(6):
            client.put_object(
                Bucket=bucket,
                Key=f"documents/{index % 2}/file-{index}.bin",
                Body=os.urandom(1000 + index * 40_000),
                ContentType="application/pdf" if index % 2 else "image/png",
            )
        client.put_object(
            Bucket=bucket, Key="documents/same-content-a.txt", Body=b"identical", ContentType="text/plain"
        )
        client.put_object(
            Bucket=bucket, Key="documents/same-content-b.txt", Body=b"identical", ContentType="text/plain"
        )
        yield env


def wipe(env: dict[str, str], endpoint: S3Endpoint) -> None:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    client = endpoint.client()
    for key in endpoint.keys(env["AWS_STORAGE_BUCKET_NAME"]):
        client.delete_object(Bucket=env["AWS_STORAGE_BUCKET_NAME"], Key=key)


def test_backup_wipe_restore_gives_back_every_row_and_object(
    installation: dict[str, str], s3_endpoint: S3Endpoint, tmp_path: Path
) -> None:
    env = {**installation, "BACKUP_DIR": str(tmp_path / "backups")}
    bucket = env["AWS_STORAGE_BUCKET_NAME"]
    counts_before = row_counts(env["DATABASE_URL"])
    objects_before = object_checksums(s3_endpoint, bucket)
    assert sum(counts_before.values()) > 0
    assert len(objects_before) == 8
    assert counts_before["accounts_user"] >= 1

    created = backup("create", env=env)
    assert created.returncode == 0, created.stderr
    folder = Path(created.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["objects"]) == 8
    assert len(list((folder / "objects").iterdir())) == 7, "identical contents are stored once"
    assert (folder / "database.dump").read_bytes()[:5] == b"PGDMP", "pg_dump custom format"

    wipe(env, s3_endpoint)
    assert row_counts(env["DATABASE_URL"]) == {}
    assert s3_endpoint.keys(bucket) == []

    restored = backup("restore", "latest", env=env)
    assert restored.returncode == 0, restored.stderr
    counts_after = row_counts(env["DATABASE_URL"])
    objects_after = object_checksums(s3_endpoint, bucket)
    assert counts_after == counts_before
    assert objects_after == objects_before
    print(
        f"backup round trip: {len(counts_after)} tables, {sum(counts_after.values())} rows, "
        f"{len(objects_after)} objects identical"
    )

    # The restored installation works: Django sees every migration applied.
    check = manage("migrate", "--check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr


def test_restore_refuses_a_non_empty_target_and_a_damaged_backup(
    installation: dict[str, str], s3_endpoint: S3Endpoint, tmp_path: Path
) -> None:
    env = {**installation, "BACKUP_DIR": str(tmp_path / "backups")}
    created = backup("create", env=env)
    assert created.returncode == 0, created.stderr
    folder = Path(created.stdout.strip().splitlines()[-1])

    refused = backup("restore", env=env)
    assert refused.returncode == 1
    assert "the database already has" in refused.stderr
    assert "--replace" in refused.stderr

    damaged = next((folder / "objects").iterdir())
    damaged.write_bytes(b"bit rot")
    counts_before = row_counts(env["DATABASE_URL"])
    refused = backup("restore", "--replace", env=env)
    assert refused.returncode == 1
    assert "missing or damaged" in refused.stderr
    assert row_counts(env["DATABASE_URL"]) == counts_before, "nothing was touched"


def test_backups_are_timestamped_and_only_the_newest_are_kept(
    installation: dict[str, str], tmp_path: Path
) -> None:
    env = {**installation, "BACKUP_DIR": str(tmp_path / "backups")}
    names = []
    for _ in range(3):
        created = backup("create", "--keep", "2", env=env)
        assert created.returncode == 0, created.stderr
        names.append(Path(created.stdout.strip().splitlines()[-1]).name)
    kept = sorted(path.name for path in (tmp_path / "backups").iterdir())
    assert kept == sorted(names[1:])
    listed = backup("list", env=env)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == names[1:]
    for name in names:
        assert name.startswith("stratus-")
        assert name.endswith("Z")


def test_backups_made_within_one_second_are_ordered_by_creation(tmp_path: Path) -> None:
    made = ["stratus-20261121T235351Z", "stratus-20261121T235352Z", "stratus-20261121T235352708374Z"]
    made += ["stratus-20261121T235352900001Z", "stratus-20261121T235353Z"]
    for name in reversed(made):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    assert [path.name for path in backups_module.backups(tmp_path)] == made
    removed = backups_module.prune(tmp_path, 2)
    assert [path.name for path in removed] == made[:3]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(made[3:])


def test_a_missing_setting_is_named(tmp_path: Path) -> None:
    result = backup(
        "create", env={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "BACKUP_DIR": str(tmp_path)}
    )
    assert result.returncode == 1
    assert "AWS_STORAGE_BUCKET_NAME: is required" in result.stderr
    assert list(tmp_path.iterdir()) == []
