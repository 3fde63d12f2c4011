"""CSV exports of a list view, written by a worker to object storage.

An export keeps the list's state as the page had it (filters, sort, columns). The worker reads
the rows through the list's selector (the API's FilterSet) in keyset chunks in the list's
order, so memory stays constant whatever the size, writes them to a temporary file with the
chosen columns in order (header: the column labels; formula cells neutralised and a byte
order mark, as the API's streamed exports), and stores the file under the organization's
prefix of the default storage. Progress goes to the member who started it as
``export.progress`` live events. The file is served only through a short-lived link (a
presigned URL on S3, a signed link on the embedded default's folder) until the job expires;
a periodic sweep deletes it afterwards.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Organization, User
from stratus.api.pagination import KeysetPagination
from stratus.crm import selectors as crm_selectors
from stratus.crm.custom_fields import definitions_for
from stratus.documents.storage import document_store
from stratus.imports.exports import BOM, neutralise
from stratus.platform.errors import Forbidden, Invalid, NotFound
from stratus.realtime.events import publish
from stratus.web.lists import state
from stratus.web.lists.services import check_list_view
from stratus.web.lists.specs import CUSTOM_PREFIX, SPECS, Column, ListSpec
from stratus.web.models import BulkState, ExportJob

logger = logging.getLogger(__name__)

EXPORT_CHUNK = 500
EXPORT_KEEP = timedelta(hours=24)  # how long a finished export can be downloaded
EXPORT_STALE_AFTER = 300  # seconds without a written chunk before a running export is queued again
EXPORT_MAX_ATTEMPTS = 3  # runs that did not finish (an error, a lost worker) before the export fails
PROGRESS_EVERY = 1.0  # seconds between two progress events of one export
KEY_ROOT = "exports"
CONTENT_TYPE = "text/csv; charset=utf-8"
# Rows a column reads by reference, beyond what the list page selects.
EXPORT_RELATED = {"deals": ("stage", "company"), "contacts": ("company",), "companies": ()}


def _spec(kind: str) -> ListSpec:
    spec = SPECS.get(kind)
    if spec is None:
        raise NotFound("Unknown list.", code="not_found")
    return spec


def _columns(spec: ListSpec, org: Organization, keys: list[str]) -> list[Column]:
    definitions = definitions_for(org=org, entity=spec.entity).values() if spec.entity else ()
    available = state.available_columns(spec, definitions)
    chosen, _problems = state.check_columns(keys, available)
    return chosen or [available[key] for key in spec.default_columns]


def export_job_create(
    *,
    org: Organization,
    actor: User,
    kind: str,
    filters: Mapping[str, Any] | None = None,
    ordering: str = "",
    columns: list[str] | tuple[str, ...] = (),
) -> ExportJob:
    """Queue an export of the ``kind`` list as the page shows it.

    Exporting is reading: every member may export, viewers included (the API's CSV exports
    are open to them too).
    """
    from stratus.celery import enqueue_on_commit
    from stratus.web import tasks

    spec = _spec(kind)
    if not account_selectors.member_users(org=org, ids=[actor.pk]).exists():
        raise Forbidden("You are not a member of this organization.", code="forbidden")
    errors: dict[str, list[str]] = {}
    clean_filters, clean_ordering, keys = check_list_view(
        spec, org, errors, filters=filters or {}, ordering=ordering, columns=columns
    )
    if errors:
        raise Invalid("The list cannot be exported.", field_errors=errors, code="invalid")
    with transaction.atomic():
        job = ExportJob.objects.create(
            organization=org,
            created_by=actor,
            kind=spec.kind,
            filters=clean_filters,
            ordering=clean_ordering,
            columns=keys or list(spec.default_columns),
            expires_at=timezone.now() + EXPORT_KEEP,
        )
        enqueue_on_commit(tasks.export_run, job.pk)
    return job


# --- the cells ------------------------------------------------------------------------------------


def _member_names(org: Organization) -> dict[int, str]:
    return {m.user_id: m.user.full_name or m.user.email for m in account_selectors.member_choices(org=org)}


def cell_value(spec: ListSpec, column: Column, record: Any, members: Mapping[int, str]) -> Any:
    """What a CSV cell holds for ``column`` of ``record``: the list's value, in a form a
    spreadsheet reads back (ISO dates, plain numbers, names of related rows)."""
    key = column.key
    if key.startswith(CUSTOM_PREFIX):
        return (record.custom_fields or {}).get(key.removeprefix(CUSTOM_PREFIX))
    if key == "name" and spec.kind == "contacts":
        return str(record)
    if key in ("owner", "assignee"):
        pk = getattr(record, f"{key}_id")
        return members.get(pk, "") if pk is not None else ""
    if key == "tags":
        return ", ".join(crm_selectors.tag_names(record))
    if key == "phones":
        return ", ".join(str(phone) for phone in record.phones or [])
    if key == "company":
        return record.company.name if record.company_id else ""
    if key == "stage":
        return record.stage.name
    if key == "target":
        return str(record.target)
    if key == "kind":
        return record.get_kind_display()
    value = getattr(record, key)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _chunks(spec: ListSpec, job: ExportJob) -> Iterator[list[Any]]:
    """The job's rows in the list's order, ``EXPORT_CHUNK`` at a time, by keyset."""
    ordering, _problem = state.check_ordering(spec, job.ordering or None)
    descending = ordering.startswith("-")
    fields = tuple(spec.orderings[ordering.removeprefix("-")])
    queryset = spec.list_selector(org=job.organization, filters=job.filters, ordering=ordering)
    model = queryset.model
    nullable = any(getattr(model._meta.get_field(name), "null", False) for name in fields)
    related = tuple(dict.fromkeys((*spec.related, *EXPORT_RELATED.get(spec.kind, ()))))
    if related:
        queryset = queryset.select_related(*related)
    ordered = queryset.order_by(*KeysetPagination._order(fields, descending, nullable))
    after = None
    while True:
        page = ordered.filter(after) if after is not None else ordered
        rows = list(page[:EXPORT_CHUNK])
        if not rows:
            return
        yield rows
        if len(rows) < EXPORT_CHUNK:
            return
        last = rows[-1]
        after = KeysetPagination._after(
            fields, [getattr(last, name) for name in fields], last.pk, descending, nullable
        )


def _progress(job: ExportJob) -> None:
    publish(
        organization_id=job.organization_id,
        event="export.progress",
        data={"id": job.pk, "kind": job.kind, "state": job.state, "total": job.total, "done": job.done},
        user_id=job.created_by_id,
    )


def export_run(*, job_id: int) -> str:
    """Write (or write again) an export's file; safe to run twice.

    Each run counts as an attempt. A run that raises puts the job back in the queue (the sweep
    starts it again) with the step that failed in ``error``; a run that never ends (a lost
    worker) is queued again by the sweep. After ``EXPORT_MAX_ATTEMPTS`` unfinished runs the
    export fails with a reason the member sees, instead of being retried until it expires.
    """
    job = ExportJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None or job.state in (BulkState.DONE, BulkState.FAILED):
        return job.state if job else "missing"
    if job.attempts >= EXPORT_MAX_ATTEMPTS:
        # The last attempt stopped without finishing (and without raising): a lost worker.
        return _fail(job, _gave_up(job.attempts, "stopped before finishing"))
    ExportJob.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)
    job.refresh_from_db(fields=["attempts"])
    step = ["reading the rows"]
    try:
        return _write(job, step)
    except Exception:
        logger.exception("export %s failed at attempt %s while %s", job.pk, job.attempts, step[0])
        if job.attempts >= EXPORT_MAX_ATTEMPTS:
            return _fail(job, _gave_up(job.attempts, f"failed while {step[0]}"))
        ExportJob.objects.filter(pk=job.pk).update(
            state=BulkState.QUEUED, error=f"Attempt {job.attempts} failed while {step[0]}; retrying."
        )
        job.refresh_from_db()
        _progress(job)
        return str(job.state)


def _fail(job: ExportJob, reason: str) -> str:
    ExportJob.objects.filter(pk=job.pk).update(
        state=BulkState.FAILED, error=reason[:300], finished_at=timezone.now()
    )
    job.refresh_from_db()
    _progress(job)
    return str(job.state)


def _gave_up(attempts: int, what: str) -> str:
    return (
        f"The export was tried {attempts} times and {what} each time. "
        "Export the list again; if it keeps failing, tell an admin."
    )


def _write(job: ExportJob, step: list[str]) -> str:
    """One attempt: count, write the file, store it, mark the job done; ``step`` names the
    current step (for the reason given if it fails)."""
    spec = SPECS[job.kind]
    org = job.organization
    columns = _columns(spec, org, list(job.columns or []))
    members = _member_names(org)
    try:
        total = spec.list_selector(org=org, filters=job.filters).order_by().values("pk").count()
    except Invalid as refused:  # a custom field the filters named was deleted meanwhile
        return _fail(job, refused.message)
    job.total, job.done, job.state = total, 0, BulkState.RUNNING
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["total", "done", "state", "heartbeat_at"])
    _progress(job)
    last_sent = timezone.now()
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        text.write(BOM)
        writer.writerow([neutralise(str(column.label)) for column in columns])
        for rows in _chunks(spec, job):
            for record in rows:
                writer.writerow([neutralise(cell_value(spec, c, record, members)) for c in columns])
            job.done += len(rows)
            job.heartbeat_at = timezone.now()
            ExportJob.objects.filter(pk=job.pk).update(done=job.done, heartbeat_at=job.heartbeat_at)
            if (job.heartbeat_at - last_sent).total_seconds() >= PROGRESS_EVERY:
                _progress(job)
                last_sent = job.heartbeat_at
        text.flush()
        raw.seek(0)
        key = f"{KEY_ROOT}/{org.pk}/{uuid.uuid4().hex}.csv"
        step[0] = "storing the file"
        document_store().write(key, raw, CONTENT_TYPE)
        text.detach()
    step[0] = "finishing"
    with transaction.atomic():
        current = ExportJob.objects.select_for_update().get(pk=job.pk)
        previous = current.key
        # Rows added or deleted while the file was written make the count differ: the file says.
        current.key, current.state, current.done, current.total = key, BulkState.DONE, job.done, job.done
        current.error = ""
        current.finished_at = timezone.now()
        current.expires_at = current.finished_at + EXPORT_KEEP
        current.save()
        _progress(current)
        if previous and previous != key:  # a run before this one stored a file too
            transaction.on_commit(lambda: _delete_file(previous), robust=True)
    return str(current.state)


def _delete_file(key: str) -> None:
    document_store().delete(key)


def export_download_url(job: ExportJob, *, now: datetime.datetime | None = None) -> str:
    """A short-lived URL of the job's file; Gone (``Invalid`` with code ``expired``) past expiry."""
    now = now or timezone.now()
    if job.state != BulkState.DONE or not job.key:
        raise NotFound("The export is not ready.", code="not_found")
    if job.file_deleted or job.expires_at <= now:
        raise Invalid("The export has expired.", code="expired")
    return document_store().download_url(
        job.key, filename=job.file_name, content_type=CONTENT_TYPE, expires=settings.AWS_QUERYSTRING_EXPIRE
    )


def export_jobs_sweep(*, now: datetime.datetime | None = None) -> dict[str, list[int]]:
    """Delete the files of expired exports; queue again exports whose message or worker was lost."""
    from stratus.web import tasks

    now = now or timezone.now()
    expired = list(
        ExportJob.objects.filter(expires_at__lte=now, file_deleted=False).values_list("pk", "key")[:1000]
    )
    deleted: list[int] = []
    store = document_store()
    for pk, key in expired:
        try:
            if key:
                store.delete(key)
        except Exception:
            logger.warning("could not delete export file %s; the next sweep retries", key, exc_info=True)
            continue
        ExportJob.objects.filter(pk=pk).update(file_deleted=True)
        deleted.append(pk)
    waiting = list(
        ExportJob.objects.filter(
            state=BulkState.QUEUED, created_at__lt=now - timedelta(seconds=30), expires_at__gt=now
        )
        .values_list("pk", flat=True)
        .union(
            ExportJob.objects.filter(
                state=BulkState.RUNNING,
                heartbeat_at__lt=now - timedelta(seconds=EXPORT_STALE_AFTER),
                expires_at__gt=now,
            ).values_list("pk", flat=True)
        )
    )
    for job_id in waiting:
        try:
            tasks.export_run.apply_async(args=(job_id,))
        except Exception:
            logger.warning("could not enqueue export %s; the next sweep retries", job_id, exc_info=True)
    return {"deleted": deleted, "queued": waiting}
