"""Backups of a Stratus installation: the PostgreSQL database and the document bucket.

    python -m deploy.backup create  [--dir DIR] [--keep N]
    python -m deploy.backup list    [--dir DIR]
    python -m deploy.backup restore [--dir DIR] [NAME|latest] [--replace]

Configuration is the application's own environment: DATABASE_URL, AWS_STORAGE_BUCKET_NAME,
AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, AWS_S3_ADDRESSING_STYLE, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_LOCATION; plus BACKUP_DIR (default ./backups) and BACKUP_KEEP
(default 14). Needs pg_dump/pg_restore of the server's major version or newer.

A backup is a folder `stratus-<UTC timestamp>` holding `database.dump` (pg_dump custom
format), `objects/<sha256>` (each object of the bucket, stored once per content) and
`manifest.json` (every key with its checksum, size, content type and metadata). It is written
under a temporary name and renamed when complete, so a failed run leaves no partial backup;
then all but the newest BACKUP_KEEP backups are deleted.

Restore checks every checksum before it changes anything, then loads the dump into the
database (one transaction) and uploads the objects. It refuses a database that already has
tables or a bucket that already has objects, unless --replace is given (which empties both).
Order of a backup: database first, then objects; an object deleted between the two steps may
be missing (documents are never overwritten in place, so none is ever stale).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

FORMAT_VERSION = 1
NAME_PATTERN = re.compile(r"^stratus-\d{8}T\d{6}(\d{6})?Z$")
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A problem the operator must fix; printed as one line, exit status 1."""


# --- Configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    conninfo: str  # without the password
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Database:
        if not url.startswith(("postgres://", "postgresql://")):
            raise BackupError("DATABASE_URL: expected a postgres:// URL")
        params = {k: v for k, v in conninfo_to_dict(url).items() if v is not None}
        password = params.pop("password", None)
        return cls(
            make_conninfo(**{k: str(v) for k, v in params.items()}), str(password) if password else None
        )

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = str(self.password)
        return env

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, password=self.password, autocommit=True)


@dataclass(frozen=True)
class Bucket:
    name: str
    prefix: str
    client: Any

    @classmethod
    def from_env(cls) -> Bucket:
        import boto3
        from botocore.config import Config

        name = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
        if not name:
            raise BackupError("AWS_STORAGE_BUCKET_NAME: is required (the document bucket to back up)")
        style = os.environ.get("AWS_S3_ADDRESSING_STYLE", "auto") or "auto"
        client = boto3.client(
            "s3",
            endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            region_name=os.environ.get("AWS_S3_REGION_NAME") or None,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            config=Config(s3={"addressing_style": style}, signature_version="s3v4"),
        )
        prefix = os.environ.get("AWS_LOCATION", "").strip("/")
        return cls(name, f"{prefix}/" if prefix else "", client)

    def object_keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


def backup_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("BACKUP_DIR") or "backups").resolve()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- PostgreSQL client tools ------------------------------------------------------------------


def tool(name: str) -> str:
    path = os.environ.get(f"{name.upper()}_BIN") or shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (postgresql-client)")
    return path


def check_tool_version(name: str, db: Database) -> None:
    output = subprocess.run([tool(name), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    client_major = int(match.group(1)) if match else 0
    with db.connect() as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    server_major = int(row[0]) // 10000 if row else 0
    if client_major < server_major:
        raise BackupError(
            f"{name} {client_major} cannot handle PostgreSQL {server_major}: "
            f"install postgresql-client {server_major} or newer"
        )


def run_tool(args: list[str], db: Database, what: str) -> None:
    result = subprocess.run(args, env=db.env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[-800:]}")


def user_tables(db: Database) -> list[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


# --- create ------------------------------------------------------------------------------------


def create(directory: Path, keep: int) -> Path:
    db = Database.from_url(os.environ.get("DATABASE_URL", ""))
    bucket = Bucket.from_env()
    check_tool_version("pg_dump", db)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    name = f"stratus-{now:%Y%m%dT%H%M%S}Z"
    if (directory / name).exists():
        name = f"stratus-{now:%Y%m%dT%H%M%S%f}Z"
    work = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=directory))
    try:
        dump = work / "database.dump"
        run_tool(
            [
                tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={dump}",
                db.conninfo,
            ],
            db,
            "pg_dump",
        )
        objects_dir = work / "objects"
        objects_dir.mkdir()
        objects = []
        for key in bucket.object_keys():
            response = bucket.client.get_object(Bucket=bucket.name, Key=key)
            digest = hashlib.sha256()
            partial = objects_dir / ".download"
            size = 0
            with partial.open("wb") as handle:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
            checksum = digest.hexdigest()
            partial.replace(objects_dir / checksum)
            objects.append(
                {
                    "key": key[len(bucket.prefix) :],
                    "sha256": checksum,
                    "size": size,
                    "content_type": response.get("ContentType") or "application/octet-stream",
                    "metadata": response.get("Metadata") or {},
                }
            )
        manifest = {
            "format": FORMAT_VERSION,
            "name": name,
            "created_at": now.isoformat(),
            "database": {"file": dump.name, "sha256": sha256_of(dump), "size": dump.stat().st_size},
            "bucket": {"name": bucket.name, "prefix": bucket.prefix},
            "objects": objects,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        final = directory / name
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    prune(directory, keep)
    return final


def backups(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = [
        path
        for path in directory.iterdir()
        if NAME_PATTERN.match(path.name) and (path / "manifest.json").is_file()
    ]
    return sorted(found, key=lambda path: creation_order(path.name))


def creation_order(name: str) -> tuple[str, int]:
    """Oldest first. A second backup within the same second carries microseconds after the
    seconds (`...T235352708374Z`); the one without them was made first, so plain string order,
    which puts `...T235352708374Z` before `...T235352Z`, would prune the wrong one."""
    stamp = name.removeprefix("stratus-").removesuffix("Z")
    return stamp[:15], int(stamp[15:]) if len(stamp) > 15 else -1


def prune(directory: Path, keep: int) -> list[Path]:
    removed = backups(directory)[:-keep] if keep > 0 else []
    for path in removed:
        shutil.rmtree(path)
    return removed


# --- restore -----------------------------------------------------------------------------------


def resolve(directory: Path, name: str) -> Path:
    available = backups(directory)
    if not available:
        raise BackupError(f"no backup in {directory}")
    if name == "latest":
        return available[-1]
    for path in available:
        if path.name == name:
            return path
    raise BackupError(
        f"no backup named {name} in {directory}; available: {', '.join(p.name for p in available)}"
    )


def verify(source: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"{source.name}: unknown backup format {manifest.get('format')!r}")
    dump = source / manifest["database"]["file"]
    if not dump.is_file() or sha256_of(dump) != manifest["database"]["sha256"]:
        raise BackupError(f"{source.name}: the database dump is missing or damaged")
    for checksum in {item["sha256"] for item in manifest["objects"]}:
        path = source / "objects" / checksum
        if not path.is_file() or sha256_of(path) != checksum:
            raise BackupError(f"{source.name}: object content {checksum} is missing or damaged")
    return manifest


def restore(directory: Path, name: str, replace: bool) -> Path:
    source = resolve(directory, name)
    manifest = verify(source)
    db = Database.from_url(os.environ.get("DATABASE_URL", ""))
    bucket = Bucket.from_env()
    check_tool_version("pg_restore", db)
    tables = user_tables(db)
    existing = list(bucket.object_keys())
    if not replace and tables:
        raise BackupError(
            f"the database already has {len(tables)} table(s); restore needs an empty one (or --replace)"
        )
    if not replace and existing:
        raise BackupError(
            f"the bucket already has {len(existing)} object(s); restore needs an empty one (or --replace)"
        )
    if replace:
        with db.connect() as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        for key in existing:
            bucket.client.delete_object(Bucket=bucket.name, Key=key)
    run_tool(
        [
            tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={db.conninfo}",
            str(source / manifest["database"]["file"]),
        ],
        db,
        "pg_restore",
    )
    for item in manifest["objects"]:
        with (source / "objects" / item["sha256"]).open("rb") as handle:
            bucket.client.put_object(
                Bucket=bucket.name,
                Key=bucket.prefix + item["key"],
                Body=handle,
                ContentType=item["content_type"],
                Metadata=item["metadata"],
            )
    return source


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.backup", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    create_cmd = sub.add_parser("create", help="back up the database and the document bucket")
    create_cmd.add_argument("--dir", help="where backups are kept (BACKUP_DIR, default ./backups)")
    create_cmd.add_argument(
        "--keep", type=int, default=int(os.environ.get("BACKUP_KEEP", "14")), help="newest backups to keep"
    )
    list_cmd = sub.add_parser("list", help="list the backups, oldest first")
    list_cmd.add_argument("--dir")
    restore_cmd = sub.add_parser("restore", help="restore a backup into an empty database and bucket")
    restore_cmd.add_argument("name", nargs="?", default="latest", help="backup name, or latest (default)")
    restore_cmd.add_argument("--dir")
    restore_cmd.add_argument("--replace", action="store_true", help="empty the database and bucket first")
    args = parser.parse_args(argv)
    try:
        directory = backup_dir(args.dir)
        if args.command == "create":
            if args.keep < 1:
                raise BackupError("--keep: must be at least 1")
            path = create(directory, args.keep)
            manifest = json.loads((path / "manifest.json").read_text())
            print(
                f"backup {path.name}: database {manifest['database']['size']} bytes, "
                f"{len(manifest['objects'])} object(s)"
            )
            print(path)
        elif args.command == "list":
            for path in backups(directory):
                manifest = json.loads((path / "manifest.json").read_text())
                print(f"{path.name}  {len(manifest['objects'])} object(s)")
        else:
            path = restore(directory, args.name, args.replace)
            print(f"restored {path.name}")
    except BackupError as error:
        print(f"backup: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
