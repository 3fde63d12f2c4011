"""Import files sent straight to object storage, and the preview of their first rows.

The browser's import wizard does not send the file through a Stratus request: it asks for an
upload target (a presigned POST on S3; on the embedded default a signed URL of Stratus's own
upload endpoint, which writes to the default storage), sends the bytes there, and carries a
signed *file grant* from step to step. The grant names the organization, the member, the
storage key, the file's name and size; nothing a user typed becomes part of a key. The mapping
step reads only the head of the stored file (``mapping.SAMPLE_BYTES``), so it stays fast
whatever the file's size. Starting the import moves the file from its upload (staging) key,
which a still valid upload URL could overwrite, to the key the job reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.documents.storage import S3DocumentStore, UploadTarget, document_store, staging_key
from stratus.imports import mapping as columns
from stratus.imports.errors import ImportCode
from stratus.imports.models import DedupPolicy, ImportJob
from stratus.imports.rows import ParsedRow, RowError, parse_row
from stratus.imports.services import Analysis, custom_field_definitions, import_analyse
from stratus.platform.errors import Forbidden, Invalid

GRANT_SALT = "stratus.imports.file"
LOCAL_UPLOAD_SALT = "stratus.imports.local-upload"
KEY_ROOT = "imports/uploads"
CONTENT_TYPE = "text/csv"
PREVIEW_ROWS = 10
# How long a file grant stays usable: long enough to map the columns at leisure.
GRANT_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class FileGrant:
    """An uploaded (or about to be uploaded) import file, as the signed grant names it."""

    organization_id: int
    user_id: int
    key: str
    name: str
    size: int

    @property
    def upload_key(self) -> str:
        return staging_key(self.key)

    def sign(self) -> str:
        return signing.dumps(
            {"o": self.organization_id, "u": self.user_id, "k": self.key, "n": self.name, "s": self.size},
            salt=GRANT_SALT,
            compress=True,
        )


def _check_importer(org: Organization, actor: User) -> None:
    """Importing writes records: members and above, as ``POST /api/v1/imports``."""
    membership = Membership.objects.filter(organization=org, user_id=actor.pk).first()
    if membership is None or not membership.has_role(Role.MEMBER):
        raise Forbidden("Importing needs the member role or higher.", code="forbidden")


def _check_size(size: int) -> None:
    if size <= 0:
        raise Invalid(
            "The file is empty.", field_errors={"file": ["The file is empty."]}, code=ImportCode.EMPTY_FILE
        )
    if size > settings.IMPORT_MAX_FILE_BYTES:
        raise Invalid(
            f"The file is larger than {settings.IMPORT_MAX_FILE_BYTES} bytes.",
            field_errors={"file": [f"Too large: at most {settings.IMPORT_MAX_FILE_BYTES} bytes."]},
            code=ImportCode.FILE_TOO_LARGE,
        )


def _new_grant(org: Organization, actor: User, name: str, size: int) -> FileGrant:
    clean_name = (name or "import.csv").replace("\\", "/").rsplit("/", 1)[-1][:255] or "import.csv"
    key = f"{KEY_ROOT}/{org.pk}/{uuid.uuid4().hex}.csv"
    return FileGrant(organization_id=org.pk, user_id=actor.pk, key=key, name=clean_name, size=size)


def import_upload_start(
    *, org: Organization, actor: User, name: str, size: int, local_url: Any
) -> tuple[FileGrant, UploadTarget]:
    """Where the browser sends a file of ``size`` bytes; ``local_url(token)`` builds the URL of
    the embedded default's upload endpoint (the web app owns that route)."""
    _check_importer(org, actor)
    _check_size(size)
    grant = _new_grant(org, actor, name, size)
    store = document_store()
    expires = settings.DOCUMENTS_UPLOAD_URL_EXPIRE
    if isinstance(store, S3DocumentStore):  # S3: a presigned POST to the upload key, bound to the size
        target = store.upload_target(grant.key, size=size, content_type=CONTENT_TYPE, expires=expires)
    else:
        token = signing.dumps(
            {"k": grant.upload_key, "s": size, "o": org.pk}, salt=LOCAL_UPLOAD_SALT, compress=True
        )
        target = UploadTarget(
            url=local_url(token),
            fields={"Content-Type": CONTENT_TYPE},
            expires_at=timezone.now() + timedelta(seconds=expires),
        )
    return grant, target


@dataclass(frozen=True)
class LocalUpload:
    key: str
    size: int


def local_upload_check(token: str) -> LocalUpload:
    """The upload a signed local upload URL allows; ``Forbidden`` when expired or forged."""
    try:
        data = signing.loads(token, salt=LOCAL_UPLOAD_SALT, max_age=settings.DOCUMENTS_UPLOAD_URL_EXPIRE)
    except signing.SignatureExpired:
        raise Forbidden("The upload URL has expired: upload the file again.", code="expired") from None
    except signing.BadSignature:
        raise Forbidden("The upload URL is not valid.", code="forbidden") from None
    return LocalUpload(key=str(data["k"]), size=int(data["s"]))


def local_upload_write(*, upload: LocalUpload, content: IO[bytes], size: int) -> None:
    """Store the bytes of a local upload (the embedded default's stand-in for S3's POST)."""
    if size != upload.size:
        raise Invalid(
            f"This upload accepts exactly {upload.size} bytes.",
            field_errors={"file": [f"Expected {upload.size} bytes, received {size}."]},
            code="size_differs",
        )
    store = document_store()
    if store.exists(upload.key):
        raise Invalid("A file was already uploaded to this URL.", code="already_uploaded")
    store.write(upload.key, content, CONTENT_TYPE)


def import_upload_receive(
    *, org: Organization, actor: User, name: str, content: IO[bytes], size: int
) -> FileGrant:
    """A file sent through a Stratus form (no script, or a small file): stored as a direct
    upload would have stored it."""
    _check_importer(org, actor)
    _check_size(size)
    grant = _new_grant(org, actor, name, size)
    document_store().write(grant.upload_key, content, CONTENT_TYPE)
    return grant


def file_grant(*, org: Organization, actor: User, token: str) -> FileGrant:
    """The file a grant names, checked against the organization and member the page acts for."""
    try:
        data = signing.loads(token, salt=GRANT_SALT, max_age=GRANT_MAX_AGE)
    except signing.BadSignature:
        raise Invalid(
            "The uploaded file is no longer available: upload it again.",
            field_errors={"file": ["Upload the file again."]},
            code="upload_expired",
        ) from None
    if data["o"] != org.pk or data["u"] != actor.pk:
        raise Forbidden("This upload belongs to someone else.", code="forbidden")
    return FileGrant(
        organization_id=data["o"], user_id=data["u"], key=data["k"], name=data["n"], size=data["s"]
    )


def file_head(grant: FileGrant) -> bytes:
    """The first bytes of the uploaded file (only these are read, whatever its size)."""
    store = document_store()
    stored = store.size(grant.upload_key)
    if stored is None:
        raise Invalid(
            "The file has not arrived: upload it again.",
            field_errors={"file": ["The upload did not finish."]},
            code="upload_missing",
        )
    if stored != grant.size:
        raise Invalid(
            "The stored file differs from the one announced: upload it again.",
            field_errors={"file": ["The upload is incomplete."]},
            code="upload_incomplete",
        )
    return store.head(grant.upload_key, columns.SAMPLE_BYTES)


# --- preview -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[Any]  # one per column, the value as it will be saved ("" when the column is ignored)
    error: str  # why the row would not be imported ("" when it would)


@dataclass(frozen=True)
class Preview:
    analysis: Analysis
    rows: list[PreviewRow]


def _head_rows(sample: bytes, analysis: Analysis, limit: int) -> list[tuple[int, list[str]]]:
    """The first ``limit`` non-blank data rows of the sample, with their line numbers (a row the
    sample cuts off is left out)."""
    decoder = codecs.getincrementaldecoder(analysis.encoding)(errors="surrogateescape")
    complete = len(sample) < columns.SAMPLE_BYTES
    text = decoder.decode(sample, final=complete)
    if not complete:  # the last line may be cut: keep whole lines only
        text = text[: text.rfind("\n") + 1] if "\n" in text else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=analysis.delimiter)
    rows: list[tuple[int, list[str]]] = []
    next(reader, None)
    number = 1
    for cells in reader:
        number += 1
        if not any(cell.strip() for cell in cells):
            continue
        rows.append((number, cells))
        if len(rows) > limit:  # one more than shown, so the last shown row is known complete
            break
    return rows[:limit]


def _shown(row: ParsedRow, target: str) -> Any:
    if not target:
        return ""
    if target.startswith(columns.CUSTOM_PREFIX):
        return row.custom.get(target[len(columns.CUSTOM_PREFIX) :], "")
    if target == "tags":
        return ", ".join(row.tags)
    if target == "full_name":
        return " ".join(v for v in (row.values.get("first_name", ""), row.values.get("last_name", "")) if v)
    return row.values.get(target, "")


def import_preview(
    *,
    org: Organization,
    kind: str,
    sample: bytes,
    encoding: str | None = None,
    delimiter: str | None = None,
    overrides: dict[str, str | None] | None = None,
    dedup_policy: str = DedupPolicy.SKIP,
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """The analysis of a file's head and its first rows as the import would save them."""
    analysis = import_analyse(
        org=org,
        kind=kind,
        sample=sample,
        encoding=encoding,
        delimiter=delimiter,
        overrides=overrides,
        dedup_policy=dedup_policy,
    )
    custom = custom_field_definitions(org, kind)
    shown: list[PreviewRow] = []
    for number, cells in _head_rows(sample, analysis, limit):
        try:
            parsed = parse_row(number, cells, analysis.mapping, custom, analysis.encoding)
        except RowError as problem:
            shown.append(PreviewRow(number=number, cells=["" for _ in analysis.mapping], error=str(problem)))
            continue
        shown.append(PreviewRow(number=number, cells=[_shown(parsed, t) for t in analysis.mapping], error=""))
    return Preview(analysis=analysis, rows=shown)


def import_start(
    *,
    org: Organization,
    actor: User,
    grant: FileGrant,
    kind: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str | None] | None = None,
    dedup_policy: str = DedupPolicy.SKIP,
) -> ImportJob:
    """Check the uploaded file's head again and queue its import (nothing is written when refused)."""
    from stratus.celery import enqueue_on_commit
    from stratus.imports import tasks

    _check_importer(org, actor)
    if grant.organization_id != org.pk or grant.user_id != actor.pk:
        raise Forbidden("This upload belongs to someone else.", code="forbidden")
    analysis = import_analyse(
        org=org,
        kind=kind,
        sample=file_head(grant),
        encoding=encoding,
        delimiter=delimiter,
        overrides=mapping,
        dedup_policy=dedup_policy,
    )
    store = document_store()
    store.promote(grant.upload_key, grant.key)
    with transaction.atomic():
        job = ImportJob(
            organization=org,
            created_by=actor,
            kind=kind,
            original_name=grant.name,
            size=grant.size,
            encoding=analysis.encoding,
            delimiter=analysis.delimiter,
            headers=analysis.headers,
            mapping=analysis.mapping,
            dedup_policy=dedup_policy,
        )
        job.file.name = grant.key
        job.save()
        enqueue_on_commit(tasks.run, job.pk)
    return job


@dataclass(frozen=True)
class Columns:
    """What the mapping step offers even when the mapping is refused: the file's columns, the
    guessed field of each, and the fields a column may map to."""

    encoding: str
    delimiter: str
    headers: list[str]
    guesses: list[str]
    available_fields: list[str]


def import_columns(
    *, org: Organization, kind: str, sample: bytes, encoding: str | None = None, delimiter: str | None = None
) -> Columns:
    """The columns of a file's head and the guessed field of each (from the header names,
    custom fields included); raises ``Invalid`` only when the file itself cannot be read."""
    head = columns.read_head(sample, encoding=encoding, delimiter=delimiter)
    custom = custom_field_definitions(org, kind)
    return Columns(
        encoding=head.encoding,
        delimiter=head.delimiter,
        headers=head.headers,
        guesses=columns.detect_mapping(kind, head.headers, custom),
        available_fields=[*columns.fields_for(kind), *(columns.CUSTOM_PREFIX + key for key in custom)],
    )
