"""Where document bytes live: the configured ``default`` storage, S3-compatible or a local folder.

The rest of the app talks to :func:`document_store`, which offers the same operations on
both backends: direct uploads (an S3 presigned POST, or a signed URL of Stratus's own
upload endpoint on the embedded default), verification reads, short-lived download URLs
and deletes. Keys are generated here from the organization id and a random UUID; nothing a
user typed ever becomes part of a key.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from botocore.exceptions import ClientError
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from stratus.platform.storage import is_s3

KEY_ROOT = "documents"
CHUNK = 1024 * 1024

UPLOAD_SALT = "stratus.documents.upload"
DOWNLOAD_SALT = "stratus.documents.download"


INLINE_TYPES = frozenset({"application/pdf"})


def opens_inline(content_type: str, asked: bool) -> bool:
    """Whether a download may open in the browser rather than save: only when asked (a search
    result opening a PDF at its page) and only for PDF, which the browser shows in its own
    viewer; any other type is always an attachment, so an uploaded page never runs as ours."""
    return asked and content_type in INLINE_TYPES


def new_key(organization_id: int) -> str:
    return f"{KEY_ROOT}/{organization_id}/{uuid.uuid4().hex}"


def staging_key(key: str) -> str:
    """Where a direct upload lands. The finish call moves it to ``key``, which no upload URL can
    write: a presigned POST stays usable until it expires, so the verified object must not be
    the one a client can still overwrite."""
    return f"{key}.upload"


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a client sends the bytes: a multipart POST of ``fields`` plus ``file`` to ``url``."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class DocumentStore:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # --- writes ---------------------------------------------------------------------------

    def write(self, key: str, content: IO[bytes], content_type: str) -> None:
        file = File(content, name=key)
        file.content_type = content_type  # type: ignore[attr-defined]  # read by S3Storage
        saved = self.storage.save(key, file)
        if saved != key:  # keys are random: a clash means something else wrote here
            self.storage.delete(saved)
            raise RuntimeError(f"storage stored {key} as {saved}")

    def delete(self, key: str) -> None:
        self.storage.delete(key)

    def promote(self, source: str, destination: str) -> None:
        """Move ``source`` to ``destination`` (replacing it)."""
        os.replace(self.storage.path(source), self.storage.path(destination))

    # --- reads ----------------------------------------------------------------------------

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no object."""
        try:
            return int(self.storage.size(key))
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return bool(self.storage.exists(key))

    def head(self, key: str, length: int) -> bytes:
        with self.storage.open(key, "rb") as handle:
            return bytes(handle.read(length))

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.storage.open(key, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def keys_older_than(self, cutoff: datetime) -> Iterator[str]:
        """Every document key last modified before ``cutoff``."""
        root = self.storage.path(KEY_ROOT)
        for directory, _dirs, files in os.walk(root):
            for filename in files:
                path = os.path.join(directory, filename)
                modified = datetime.fromtimestamp(os.path.getmtime(path), tz=timezone.get_current_timezone())
                if modified < cutoff:
                    yield os.path.relpath(path, self.storage.path("")).replace(os.sep, "/")

    # --- URLs -----------------------------------------------------------------------------

    def upload_target(self, key: str, *, size: int, content_type: str, expires: int) -> UploadTarget:
        token = signing.dumps(
            {"key": staging_key(key), "document": key, "size": size, "type": content_type}, salt=UPLOAD_SALT
        )
        return UploadTarget(
            url=reverse("documents:local-upload", kwargs={"token": token}),
            fields={"Content-Type": content_type},
            expires_at=timezone.now() + timedelta(seconds=expires),
        )

    def download_url(
        self, key: str, *, filename: str, content_type: str, expires: int, inline: bool = False
    ) -> str:
        inline = opens_inline(content_type, inline)
        grant = {"key": key, "name": filename, "type": content_type, "inline": inline}
        token = signing.dumps(grant, salt=DOWNLOAD_SALT)
        return reverse("documents:local-download", kwargs={"token": token})


class S3DocumentStore(DocumentStore):
    """Through django-storages' S3 backend and its boto3 client (presigned POST and GET)."""

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client  # type: ignore[attr-defined]

    @property
    def bucket(self) -> str:
        return str(self.storage.bucket_name)  # type: ignore[attr-defined]

    def object_key(self, key: str) -> str:
        """The key in the bucket (with the configured ``AWS_LOCATION`` prefix)."""
        return str(self.storage._normalize_name(key))  # type: ignore[attr-defined]

    def promote(self, source: str, destination: str) -> None:
        # A server-side copy: the bytes never pass through Stratus.
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self.object_key(destination),
            CopySource={"Bucket": self.bucket, "Key": self.object_key(source)},
            MetadataDirective="COPY",
        )
        self.delete(source)

    def size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise
        return int(head["ContentLength"])

    def head(self, key: str, length: int) -> bytes:
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.object_key(key), Range=f"bytes=0-{length - 1}"
        )
        return bytes(response["Body"].read())

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        for chunk in response["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def keys_older_than(self, cutoff: datetime) -> Iterator[str]:
        prefix = self.object_key(KEY_ROOT) + "/"
        location = self.object_key("x")[:-1]  # the AWS_LOCATION prefix, "" or "prefix/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] < cutoff:
                    yield item["Key"][len(location) :]

    def upload_target(self, key: str, *, size: int, content_type: str, expires: int) -> UploadTarget:
        # The upload goes to the staging key of ``key``. The policy binds that key, the exact
        # size and the content type; the finish call verifies all of it again (plus checksum
        # and content) because not every S3-compatible service enforces every POST condition.
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=self.object_key(staging_key(key)),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires,
        )
        return UploadTarget(
            url=post["url"],
            fields={k: str(v) for k, v in post["fields"].items()},
            expires_at=timezone.now() + timedelta(seconds=expires),
        )

    def download_url(
        self, key: str, *, filename: str, content_type: str, expires: int, inline: bool = False
    ) -> str:
        attachment = not opens_inline(content_type, inline)
        return str(
            self.storage.url(  # type: ignore[call-arg]  # S3Storage.url takes parameters and expire
                key,
                parameters={
                    "ResponseContentDisposition": content_disposition_header(attachment, filename),
                    "ResponseContentType": content_type,
                },
                expire=expires,
            )
        )


def document_store() -> DocumentStore:
    storage = default_storage
    if is_s3(storage):
        return S3DocumentStore(storage)
    return DocumentStore(storage)
