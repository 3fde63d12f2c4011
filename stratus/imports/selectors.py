"""Reads for imports: an organization's import jobs and a job's refused rows."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from stratus.accounts.models import Organization, User
from stratus.imports.errors import ImportCode
from stratus.imports.models import ImportJob, ImportRowError, ImportState
from stratus.platform.errors import NotFound


def import_list(*, org: Organization) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(organization=org)


def import_get(*, org: Organization, job_id: int) -> ImportJob:
    job = import_list(org=org).filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.", code=ImportCode.NOT_FOUND)
    return job


def import_row_errors(*, job: ImportJob) -> Iterator[ImportRowError]:
    """The rows ``job`` did not import, in file order, streamed."""
    return job.row_errors.order_by("row_number").iterator(chunk_size=2000)


def imports_running(*, org: Organization, actor: User) -> list[ImportJob]:
    """The member's own imports still queued or running (the shell's progress indicator)."""
    return list(
        import_list(org=org)
        .filter(created_by_id=actor.pk, state__in=[ImportState.QUEUED, ImportState.RUNNING])
        .order_by("created_at", "id")[:5]
    )


def row_error_column(job: ImportJob, reason: str) -> str:
    """The column of the file a refusal is about: the header of the column mapped to the field
    the reason starts with (``email: Enter a valid email address.``), else ""."""
    field, separator, _ = reason.partition(":")
    field = field.strip() if separator else ""
    if field == "duplicate email" or reason.startswith("a contact with this email"):
        field = "email"
    if not field:
        return ""
    for header, target in zip(job.headers, job.mapping, strict=False):
        if target == field or (field in ("first_name", "last_name") and target == "full_name"):
            return str(header)
    return ""


def import_error_report(*, job: ImportJob) -> Iterator[tuple[int, str, str]]:
    """Each refused row of ``job`` as (row number, column, reason), in file order."""
    for error in import_row_errors(job=job):
        yield error.row_number, row_error_column(job, error.reason), error.reason
