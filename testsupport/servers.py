"""Servers a test starts: gunicorn serving Stratus, moto's S3, the SMTP sink, a private Redis."""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings

from stratus.platform.storage import s3_client_config
from testsupport.processes import (
    PROJECT_DIR,
    child_env,
    free_port,
    live_database_url,
    stop_process,
    wait_for_port,
)

# --- gunicorn serving Stratus against the test database ----------------------------------------


def _wait_until_live(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer")


@contextmanager
def gunicorn_server(env: Mapping[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    """A gunicorn process serving Stratus on a free port; yields its base URL.

    Its log goes to a temporary file (a pipe nobody reads would fill up and block the server).
    """
    port = free_port()
    overrides = {
        "DATABASE_URL": live_database_url(),
        "DEBUG": "false",
        "LOG_LEVEL": "warning",
        **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
        **(env or {}),
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "stratus.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
            ],
            cwd=PROJECT_DIR,
            env=child_env(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_live(url, process, time.monotonic() + 60)
            yield url
        finally:
            stop_process(process, 20)


# --- S3-compatible endpoint -------------------------------------------------------------------


@dataclass(frozen=True)
class S3Endpoint:
    """A running S3-compatible HTTP endpoint (moto in server mode) and how to reach it."""

    url: str
    access_key_id: str = "stratus-test"
    secret_access_key: str = "stratus-test-secret"
    region: str = "us-east-1"

    def client(self) -> Any:
        """A plain boto3 client, independent of Stratus's settings (to inspect the bucket)."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"stratus-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def env(self, bucket: str, location: str = "") -> dict[str, str]:
        """Environment variables that point a Stratus process at ``bucket`` on this endpoint."""
        variables = {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": self.region,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if location:
            variables["AWS_LOCATION"] = location
        return variables

    def storage_backend(self, bucket: str, location: str = "") -> dict[str, Any]:
        """A ``STORAGES["default"]`` entry for ``bucket``: the same backend production configures."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.url,
                "region_name": self.region,
                "addressing_style": "path",
                "access_key": self.access_key_id,
                "secret_key": self.secret_access_key,
                "location": location,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
                "signature_version": "s3v4",
                "client_config": s3_client_config(
                    addressing_style="path", connect_timeout=5, read_timeout=30, max_attempts=3
                ),
            },
        }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def s3_server(startup_timeout: float = 30) -> Iterator[S3Endpoint]:
    """Start moto's S3-compatible server in a subprocess on a free port; stop it on exit.

    Everything goes over real HTTP, so boto3 and django-storages behave exactly as against
    AWS S3 or MinIO (signatures, presigned URLs, POST policies, ranges, errors).
    """
    port = free_port()
    with tempfile.TemporaryFile(mode="w+", prefix="moto-") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        endpoint = S3Endpoint(url=f"http://127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(f"{endpoint.url}/moto-api/"):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"moto server did not start on port {port}: {log.read()[-2000:]}")
                time.sleep(0.1)
            yield endpoint
        finally:
            stop_process(process, 10)


# --- Background work: a real SMTP server and a private Redis ------------------------------------


class SmtpSink:
    """A running ``stratus.platform.smtp_sink`` process; messages are files in ``directory``."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.directory.glob("*.eml"))]

    def parsed(self) -> list[email.message.Message]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.messages()]


@contextmanager
def smtp_server(directory: Path, *, tempfail_times: int = 2) -> Iterator[SmtpSink]:
    """Start an SMTP server process (aiosmtpd) that stores every message it accepts."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stratus.platform.smtp_sink",
            "--port",
            str(port),
            "--directory",
            str(directory),
            "--tempfail-times",
            str(tempfail_times),
        ],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "the SMTP server")
        yield SmtpSink(port, directory)
    finally:
        process.terminate()
        process.wait(timeout=10)


class RedisServer:
    """A private ``redis-server`` process that a test may stop and start again on one port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
