"""What the browser app keeps for its users: saved list views and bulk jobs over list rows."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from stratus.accounts.models import Organization


class ListKind(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    COMPANIES = "companies", "Companies"
    DEALS = "deals", "Deals"
    ACTIVITIES = "activities", "Activities"


class SavedView(models.Model):
    """A named list state: filters (the API's query parameters), sort and columns.

    Kept by its owner; ``shared`` views are offered to every member of the organization.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    name = models.CharField(max_length=80)
    shared = models.BooleanField(default=False)
    # The list's query parameters, by name: a value or a list of values (as the API takes them).
    filters = models.JSONField(default=dict, blank=True)
    ordering = models.CharField(max_length=60, blank=True)
    columns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                Lower("name"), "organization", "owner", "kind", name="web_savedview_name_unique_ci"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="web_savedview_name_not_empty"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in ListKind]), name="web_savedview_kind_valid"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "kind", "owner"], name="web_savedview_org_kind_owner"),
            models.Index(
                fields=["organization", "kind"], name="web_savedview_org_shared", condition=Q(shared=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DefaultView(models.Model):
    """The view a member's list opens with (their own or a shared one); one per list per member."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "user", "kind"], name="web_defaultview_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.view_id}"


class BulkAction(models.TextChoices):
    OWNER = "owner", "Change owner"
    TAGS = "tags", "Add tags"
    STAGE = "stage", "Move to stage"
    DELETE = "delete", "Delete"


class BulkState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkJob(models.Model):
    """A bulk edit or delete over many list rows, run by a worker in chunks.

    The rows are either explicit ``ids`` or every row the list's ``filters`` select; the job
    walks them by ascending id from ``last_id``, one committed chunk at a time, so a job that
    is picked up again (a lost message, a killed worker) resumes where it stopped.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    action = models.CharField(max_length=10, choices=BulkAction.choices)
    value = models.JSONField(null=True, blank=True, help_text="The new owner id, tag names or stage id.")
    ids = models.JSONField(null=True, blank=True, help_text="The chosen rows; null means every matching row.")
    filters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=BulkState.choices, default=BulkState.QUEUED)
    total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rows to do; counted by the worker for a job on every matching row."
    )
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first refusals: [id, message].")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="web_bulkjob_org_created"),
            models.Index(fields=["state", "heartbeat_at"], name="web_bulkjob_state"),
        ]

    def __str__(self) -> str:
        return f"bulk {self.action} of {self.kind} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == BulkState.DONE:
            return 100
        return 0 if not self.total else min(100, (self.done + self.failed) * 100 // self.total)


class ExportJob(models.Model):
    """A CSV export of a list view (its filters, sort and columns), written by a worker.

    The file goes to the default storage under the organization's prefix and is served only
    through a short-lived link to the member who started the export, until ``expires_at``;
    a periodic sweep deletes it afterwards. Running the job again writes the file again.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    filters = models.JSONField(default=dict, blank=True)
    ordering = models.CharField(max_length=60, blank=True)
    columns = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=BulkState.choices, default=BulkState.QUEUED)
    total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rows to write; counted by the worker."
    )
    done = models.PositiveIntegerField(default=0)
    key = models.CharField(max_length=200, blank=True, help_text="The file in the default storage.")
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Runs started; the export fails after a bounded number that did not finish."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="After this the file is refused and then deleted.")
    file_deleted = models.BooleanField(default=False)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_by", "created_at"], name="web_exportjob_org_user"),
            models.Index(fields=["state", "heartbeat_at"], name="web_exportjob_state"),
            models.Index(fields=["expires_at"], name="web_exportjob_expiry", condition=Q(file_deleted=False)),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in ListKind]), name="web_exportjob_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"export of {self.kind} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == BulkState.DONE:
            return 100
        return 0 if not self.total else min(100, self.done * 100 // self.total)

    @property
    def file_name(self) -> str:
        return f"{self.kind}-{timezone.localtime(self.created_at):%Y%m%d-%H%M%S}.csv"


# The charts a dashboard can show, in the order of the default layout.
DASHBOARD_CHARTS: dict[str, str] = {
    "funnel": "Pipeline funnel",
    "won": "Won value by month",
    "forecast": "Forecast",
    "activity": "Activity",
    "tasks": "My open tasks",
}


class Dashboard(models.Model):
    """A named choice of charts (``charts``: an ordered list of keys of ``DASHBOARD_CHARTS``).

    Admins make them; a ``shared`` dashboard is offered to every member of the organization.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=80)
    charts = models.JSONField(default=list)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("name"), "organization", name="web_dashboard_name_unique_ci"),
            models.CheckConstraint(condition=~Q(name=""), name="web_dashboard_name_not_empty"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "name"], name="web_dashboard_org_name"),
        ]

    def __str__(self) -> str:
        return self.name
