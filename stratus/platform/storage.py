"""Object storage plumbing shared by the settings, readiness and the apps that store files.

One botocore client configuration for every S3-compatible service (AWS S3, MinIO,
DigitalOcean Spaces, Cloudflare R2): signature v4, the addressing style the operator
chose, bounded connect/read timeouts and a small number of standard-mode retries, so a
slow or unreachable endpoint costs a request seconds, never a worker forever.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config


def s3_client_config(
    *,
    addressing_style: str | None,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
) -> Config:
    s3: dict[str, Any] = {}
    if addressing_style:
        s3["addressing_style"] = addressing_style
    return Config(
        signature_version="s3v4",
        s3=s3,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
    )


def is_s3(storage: Any) -> bool:
    """True for django-storages' S3 backend (any S3-compatible service), False for a local folder."""
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


_probe_clients: dict[tuple[Any, ...], Any] = {}


def probe_bucket(storage: Any, timeout: float) -> None:
    """HEAD the bucket with one attempt bounded by ``timeout``; raises when it does not answer 2xx.

    A dedicated client (cached per configuration) so a readiness probe never waits for the
    storage backend's own retries and read timeout.
    """
    key = (storage.endpoint_url, storage.region_name, storage.access_key, storage.bucket_name, timeout)
    client = _probe_clients.get(key)
    if client is None:
        config = storage.client_config.merge(
            Config(
                connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}
            )
        )
        session = storage._create_session()
        client = session.client(
            "s3",
            region_name=storage.region_name,
            endpoint_url=storage.endpoint_url,
            use_ssl=storage.use_ssl,
            verify=storage.verify,
            config=config,
        )
        _probe_clients[key] = client
    client.head_bucket(Bucket=storage.bucket_name)
