"""CSV import jobs: the uploaded file, its column mapping, progress, and each bad row."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    COMPANIES = "companies", "Companies"


class DedupPolicy(models.TextChoices):
    SKIP = "skip", "Skip rows that match an existing record"
    UPDATE = "update", "Update the matching record with the row's non-empty cells"
    CREATE = "create", "Always create a new record"


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ImportJob(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=40, default="utf-8")
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list)
    # One entry per column, in file order: the target field, or "" to ignore the column.
    mapping = models.JSONField(default=list)
    dedup_policy = models.CharField(max_length=10, choices=DedupPolicy.choices, default=DedupPolicy.SKIP)
    state = models.CharField(max_length=10, choices=ImportState.choices, default=ImportState.QUEUED)
    error = models.CharField(max_length=1000, blank=True, help_text="Why the whole job failed.")
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="imports_job_org_created"),
            models.Index(fields=["state", "heartbeat_at"], name="imports_job_state_idx"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.kind}, {self.state})"


class ImportRowError(models.Model):
    """A row that was not imported, with the reason; the error report lists these."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text="Line of the record in the file; the header is 1.")
    reason = models.CharField(max_length=1000)
    values = models.JSONField(default=list)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["job", "row_number"], name="imports_rowerror_job_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
