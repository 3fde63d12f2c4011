"""Reads for imports: an organization's import jobs and a job's refused rows."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from stratus.accounts.models import Organization
from stratus.imports.errors import ImportCode
from stratus.imports.models import ImportJob, ImportRowError
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
