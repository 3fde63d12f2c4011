"""CSV imports: validated on upload, run in the background in resumable chunks.

Each chunk of rows is one transaction that writes the records, the chunk's error rows and the
job's counters together, so a worker killed mid-file resumes after the last committed chunk
without creating anything twice. The file is read as a stream (from object storage in
production): memory does not grow with the file.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Min
from django.db.models.functions import Lower
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, User
from stratus.crm import rules
from stratus.crm import services as crm
from stratus.crm.models import Company, Contact, CustomField
from stratus.imports import mapping as columns
from stratus.imports.errors import ImportCode
from stratus.imports.models import DedupPolicy, ImportJob, ImportKind, ImportRowError, ImportState
from stratus.imports.rows import ParsedRow, RowError, parse_row
from stratus.platform.errors import Invalid
from stratus.platform.locks import lock_row
from stratus.realtime.events import publish

logger = logging.getLogger(__name__)

csv.field_size_limit(10 * 1024 * 1024)


def custom_field_definitions(org: Organization, kind: str) -> dict[str, CustomField]:
    entity = "contact" if kind == ImportKind.CONTACTS else "company"
    return {f.key: f for f in CustomField.objects.filter(organization=org, entity=entity)}


@dataclass(frozen=True)
class Analysis:
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: list[str]
    available_fields: list[str]  # the fields a column may map to, custom fields included


def import_analyse(
    *,
    org: Organization,
    kind: str,
    sample: bytes,
    encoding: str | None = None,
    delimiter: str | None = None,
    overrides: dict[str, str | None] | None = None,
    dedup_policy: str = DedupPolicy.SKIP,
) -> Analysis:
    """Read the head of a file and check that it can be imported; raises ``ApplicationError``."""
    if kind not in ImportKind.values:
        raise Invalid(
            "Unknown import kind.",
            field_errors={"kind": [f"Choose {', '.join(ImportKind.values)}."]},
            code=ImportCode.KIND_UNKNOWN,
        )
    if dedup_policy not in DedupPolicy.values:
        raise Invalid(
            "Unknown duplicate policy.",
            field_errors={"dedup_policy": [f"Choose {', '.join(DedupPolicy.values)}."]},
            code=ImportCode.POLICY_UNKNOWN,
        )
    head = columns.read_head(sample, encoding=encoding, delimiter=delimiter)
    if not head.has_rows:
        raise Invalid(
            "The file has a header row but no data rows.",
            field_errors={"file": ["No data rows after the header."]},
            code=ImportCode.EMPTY_FILE,
        )
    custom = custom_field_definitions(org, kind)
    detected = columns.detect_mapping(kind, head.headers, custom)
    final = columns.apply_overrides(kind, head.headers, detected, overrides or {}, set(custom))
    columns.check_required(kind, final, dedup_policy, head.headers)
    return Analysis(
        encoding=head.encoding,
        delimiter=head.delimiter,
        headers=head.headers,
        mapping=final,
        available_fields=[*columns.fields_for(kind), *(columns.CUSTOM_PREFIX + key for key in custom)],
    )


def import_create(
    *,
    org: Organization,
    actor: User | None,
    kind: str,
    upload: File[Any],
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str | None] | None = None,
    dedup_policy: str = DedupPolicy.SKIP,
) -> ImportJob:
    from stratus.celery import enqueue_on_commit
    from stratus.imports import tasks

    size = upload.size or 0
    if size > settings.IMPORT_MAX_FILE_BYTES:
        raise Invalid(
            f"The file is larger than {settings.IMPORT_MAX_FILE_BYTES} bytes.",
            field_errors={"file": ["Too large."]},
            code=ImportCode.FILE_TOO_LARGE,
        )
    upload.seek(0)
    sample = upload.read(columns.SAMPLE_BYTES)
    analysis = import_analyse(
        org=org,
        kind=kind,
        sample=sample,
        encoding=encoding,
        delimiter=delimiter,
        overrides=mapping,
        dedup_policy=dedup_policy,
    )
    upload.seek(0)
    name = str(getattr(upload, "name", "") or "import.csv").rsplit("/", 1)[-1][:255]
    with transaction.atomic():
        job = ImportJob(
            organization=org,
            created_by=actor,
            kind=kind,
            original_name=name,
            size=size,
            encoding=analysis.encoding,
            delimiter=analysis.delimiter,
            headers=analysis.headers,
            mapping=analysis.mapping,
            dedup_policy=dedup_policy,
        )
        job.file.save(f"org-{org.pk}.csv", upload, save=False)
        job.save()
        enqueue_on_commit(tasks.run, job.pk)
    return job


@transaction.atomic
def import_cancel(*, org: Organization, job: ImportJob) -> ImportJob:
    job = lock_row(ImportJob.objects.filter(organization=org), pk=job.pk, label="Import")
    if job.state in (ImportState.QUEUED, ImportState.RUNNING):
        job.state = ImportState.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "finished_at"])
    return job


# --- Running -----------------------------------------------------------------------------------------


class _StreamingBody(io.RawIOBase):
    """A file-like view of an S3 object's body, read on demand."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_binary(name: str) -> IO[bytes]:
    """Open a stored file for streaming reads (object storage is not downloaded whole)."""
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        key = default_storage._normalize_name(name)  # type: ignore[attr-defined]
        body = bucket.Object(key).get()["Body"]
        return io.BufferedReader(_StreamingBody(body), buffer_size=256 * 1024)
    return default_storage.open(name, "rb")


def _records(job: ImportJob) -> Iterator[list[str]]:
    with open_binary(job.file.name) as raw:
        text = io.TextIOWrapper(raw, encoding=job.encoding, errors="surrogateescape", newline="")
        yield from csv.reader(text, delimiter=job.delimiter)


def _count_rows(job: ImportJob) -> int:
    records = _records(job)
    next(records, None)
    return sum(1 for row in records if any(cell.strip() for cell in row))


def _claim(job_id: int, now: datetime) -> bool:
    stale = now - timedelta(seconds=settings.IMPORT_STALE_AFTER)
    return bool(
        ImportJob.objects.filter(pk=job_id)
        .filter(state__in=[ImportState.QUEUED, ImportState.RUNNING])
        .exclude(state=ImportState.RUNNING, heartbeat_at__gte=stale)
        .update(state=ImportState.RUNNING, heartbeat_at=now)
    )


class _Writer:
    """Writes one chunk of parsed rows for a job according to its duplicate policy."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.org = job.organization
        self.actor = job.created_by
        self.members = dict(
            Membership.objects.filter(organization=self.org)
            .annotate(address=Lower("user__email"))
            .values_list("address", "user_id")
        )

    def _owner(self, row: ParsedRow) -> int | None:
        address = row.values.pop("owner", "")
        if not address:
            return None
        if address not in self.members:
            raise RowError(f"owner: {address!r} is not a member of this organization")
        return self.members[address]

    def _companies(self, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        lowered = {n.lower(): n for n in names}
        found = dict(
            Company.objects.filter(organization=self.org)
            .annotate(key=Lower("name"))
            .filter(key__in=list(lowered))
            .values("key")
            .annotate(first=Min("pk"))
            .values_list("key", "first")
        )
        missing = [Company(organization=self.org, name=lowered[k]) for k in lowered if k not in found]
        crm.records_import(
            org=self.org, actor=self.actor, import_id=self.job.pk, created=missing, updated=[], fields=[]
        )
        for company in missing:
            found[company.name.lower()] = company.pk
        return found

    def write(self, rows: list[ParsedRow], errors: list[ImportRowError]) -> dict[str, int]:
        if self.job.kind == ImportKind.CONTACTS:
            return self._write(rows, errors, Contact, self._contact_key, CONTACT_ATTRS)
        return self._write(rows, errors, Company, self._company_key, COMPANY_ATTRS)

    @staticmethod
    def _contact_key(row: ParsedRow) -> tuple[str, str] | None:
        identity = rules.contact_identity(email=row.values.get("email", ""))
        return ("email", identity) if identity else None

    @staticmethod
    def _company_key(row: ParsedRow) -> tuple[str, str] | None:
        if row.values.get("domain"):
            return ("domain", row.values["domain"].lower())
        return ("name", row.values["name"].lower()) if row.values.get("name") else None

    def _existing(
        self, model: type[Contact] | type[Company], keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        for field in ("email", "domain", "name"):
            wanted = [value for kind, value in keys if kind == field]
            if not wanted:
                continue
            records = (
                model.objects.filter(organization=self.org)
                .annotate(key=Lower(field))
                .filter(key__in=wanted)
                .order_by("pk")
            )
            for record in records:
                found.setdefault((field, record.key), record)
        return found

    def _write(
        self,
        rows: list[ParsedRow],
        errors: list[ImportRowError],
        model: Any,
        key_of: Any,
        attrs: tuple[str, ...],
    ) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
        policy = self.job.dedup_policy
        ready: list[tuple[ParsedRow, int | None]] = []
        for row in rows:
            try:
                ready.append((row, self._owner(row)))
            except RowError as error:
                errors.append(self._error(row, str(error)))
        if model is Contact:
            for row, _owner in ready:
                if not (
                    row.values.get("first_name") or row.values.get("last_name") or row.values.get("email")
                ):
                    row.values["__invalid__"] = f"first_name: {rules.CONTACT_IDENTITY}"
        keys = {key for row, _ in ready if (key := key_of(row)) is not None}
        existing = self._existing(model, keys) if policy != DedupPolicy.CREATE or model is Contact else {}
        company_ids = self._companies(
            {row.values["company"] for row, _ in ready if row.values.get("company")}
        )
        seen: dict[tuple[str, str], int] = {}
        to_create: list[Any] = []
        to_update: dict[int, Any] = {}
        applied: list[tuple[ParsedRow, Any]] = []
        for row, owner_id in ready:
            invalid = row.values.pop("__invalid__", None)
            if invalid:
                errors.append(self._error(row, invalid))
                continue
            key = key_of(row)
            if key is not None and key in seen and policy == DedupPolicy.CREATE and model is Contact:
                errors.append(self._error(row, f"duplicate email: same as row {seen[key]}"))
                continue
            record = existing.get(key) if key is not None and policy != DedupPolicy.CREATE else None
            if key is not None and policy == DedupPolicy.CREATE and model is Contact and key in existing:
                errors.append(self._error(row, "a contact with this email already exists"))
                continue
            if record is not None and policy == DedupPolicy.SKIP:
                counts["skipped"] += 1
                continue
            if record is None:
                record = model(organization=self.org)
                to_create.append(record)
                counts["created"] += 1
                if key is not None:
                    existing[key] = record
            else:
                counts["updated"] += 1
                if record.pk is not None:
                    to_update[record.pk] = record
            self._apply(row, record, attrs, owner_id, company_ids)
            applied.append((row, record))
            if key is not None:
                seen.setdefault(key, row.number)
        fields = [*attrs, "owner", "custom_fields"]
        if model is Contact:
            fields += ["company", "phones"]
        crm.records_import(
            org=self.org,
            actor=self.actor,
            import_id=self.job.pk,
            created=to_create,
            updated=list(to_update.values()),
            fields=fields,
            tags=[(record, row.tags) for row, record in applied if row.tags],
        )
        counts["failed"] = len(errors)
        return counts

    @staticmethod
    def _apply(
        row: ParsedRow, record: Any, attrs: tuple[str, ...], owner_id: int | None, companies: dict[str, int]
    ) -> None:
        for attr in attrs:
            if attr in row.values:
                setattr(record, attr, row.values[attr])
        if "phone" in row.values and isinstance(record, Contact):
            phones = list(record.phones or [])
            if row.values["phone"] not in phones:
                phones.insert(0, row.values["phone"])
            record.phones = phones
        if "company" in row.values and isinstance(record, Contact):
            record.company_id = companies[row.values["company"].lower()]
        if owner_id is not None:
            record.owner_id = owner_id
        if row.custom:
            record.custom_fields = {**(record.custom_fields or {}), **row.custom}

    def _error(self, row: ParsedRow, reason: str) -> ImportRowError:
        return ImportRowError(job=self.job, row_number=row.number, reason=reason[:1000], values=[])


CONTACT_ATTRS = ("first_name", "last_name", "email", "job_title")
COMPANY_ATTRS = ("name", "domain", "website", "phone", "industry", "city", "country", "description")


def _printable(cells: list[str]) -> list[str]:
    return [cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for cell in cells]


def import_run(*, job_id: int) -> str:
    """Run (or resume) an import; returns its final state, or "busy" if another worker has it."""
    now = timezone.now()
    if not _claim(job_id, now):
        return "busy"
    job = ImportJob.objects.select_related("organization").get(pk=job_id)
    try:
        if job.rows_total is None:
            job.rows_total = _count_rows(job)
            ImportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total, started_at=now)
        _process(job)
    except (OSError, csv.Error, UnicodeError) as error:
        logger.warning("import %s failed: %s", job_id, error)
        ImportJob.objects.filter(pk=job.pk, state=ImportState.RUNNING).update(
            state=ImportState.FAILED,
            error=f"The file could not be read: {error}"[:1000],
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return str(job.state)


def _process(job: ImportJob) -> None:
    custom = custom_field_definitions(job.organization, job.kind)
    writer = _Writer(job)
    chunk_size = settings.IMPORT_CHUNK_SIZE
    records = _records(job)
    next(records, None)  # header
    number = 1
    position = 0  # non-blank data rows seen; rows_done counts these
    chunk: list[tuple[int, list[str]]] = []

    def flush() -> bool:
        nonlocal chunk
        if not chunk:
            return True
        ok = _commit_chunk(job, writer, custom, chunk, position)
        chunk = []
        return ok

    for cells in records:
        number += 1
        if not any(cell.strip() for cell in cells):
            continue
        position += 1
        if position <= job.rows_done:
            continue
        chunk.append((number, cells))
        if len(chunk) >= chunk_size and not flush():
            return
    if not flush():
        return
    with transaction.atomic():
        finished = ImportJob.objects.filter(pk=job.pk, state=ImportState.RUNNING).update(
            state=ImportState.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
        )
        if finished:
            _announce_progress(ImportJob.objects.get(pk=job.pk))


def _commit_chunk(
    job: ImportJob,
    writer: _Writer,
    custom: dict[str, CustomField],
    chunk: list[tuple[int, list[str]]],
    position: int,
) -> bool:
    """Write one chunk with the job's counters in one transaction; False if the job stopped."""
    with transaction.atomic():
        current = ImportJob.objects.select_for_update().get(pk=job.pk)
        expected_done = position - len(chunk)
        if current.state != ImportState.RUNNING or current.rows_done != expected_done:
            return False  # cancelled, or another worker resumed it after this one stalled
        errors: list[ImportRowError] = []
        parsed: list[ParsedRow] = []
        raw_by_number: dict[int, list[str]] = {}
        for number, cells in chunk:
            raw_by_number[number] = cells
            try:
                parsed.append(parse_row(number, cells, job.mapping, custom, job.encoding))
            except RowError as problem:
                errors.append(ImportRowError(job=job, row_number=number, reason=str(problem)[:1000]))
        counts = writer.write(parsed, errors)
        for row_error in errors:
            row_error.values = _printable(raw_by_number[row_error.row_number])
        ImportRowError.objects.bulk_create(errors)
        current.rows_done = position
        current.created += counts["created"]
        current.updated += counts["updated"]
        current.skipped += counts["skipped"]
        current.failed += len(errors)
        current.heartbeat_at = timezone.now()
        current.save(update_fields=["rows_done", "created", "updated", "skipped", "failed", "heartbeat_at"])
        _announce_progress(current)
        job.rows_done = position
    return True


def _announce_progress(job: ImportJob) -> None:
    """Live progress for the import's page (delivered when this chunk commits)."""
    publish(
        organization_id=job.organization_id,
        event="import.progress",
        data={
            "id": job.pk,
            "state": job.state,
            "rows_total": job.rows_total,
            "rows_done": job.rows_done,
            "created": job.created,
            "updated": job.updated,
            "skipped": job.skipped,
            "failed": job.failed,
        },
    )


def imports_sweep(*, now: datetime | None = None) -> list[int]:
    """Queue again imports whose worker went silent (killed, or their message was lost)."""
    from stratus.imports import tasks

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.IMPORT_STALE_AFTER)
    waiting = list(
        ImportJob.objects.filter(state=ImportState.QUEUED, created_at__lt=now - timedelta(seconds=30))
        .values_list("pk", flat=True)
        .union(
            ImportJob.objects.filter(state=ImportState.RUNNING, heartbeat_at__lt=stale).values_list(
                "pk", flat=True
            )
        )
    )
    for job_id in waiting:
        try:
            tasks.run.apply_async(args=(job_id,))
        except Exception:
            logger.warning("could not enqueue import %s; the next sweep retries", job_id, exc_info=True)
    return waiting
