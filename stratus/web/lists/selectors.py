"""Reads for the list pages: saved views a member may use, their default view, bulk and export jobs."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from stratus.accounts.models import Organization, User
from stratus.platform.errors import NotFound
from stratus.web.models import BulkJob, DefaultView, ExportJob, SavedView


def saved_view_list(*, org: Organization, user: User, kind: str) -> QuerySet[SavedView]:
    """The member's own views of ``kind`` and those shared with the organization, by name."""
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True), organization=org, kind=kind).order_by(
        "name", "id"
    )


def saved_views_and_default(
    *, org: Organization, user: User, kind: str
) -> tuple[list[SavedView], SavedView | None]:
    """``saved_view_list`` and ``default_view_for`` in one query (a list page shows both): the
    default is the view of the list that the member chose as the default of ``kind``."""
    chosen = DefaultView.objects.filter(organization=org, user=user, kind=kind, view=OuterRef("pk"))
    views: list[SavedView] = list(
        saved_view_list(org=org, user=user, kind=kind).annotate(is_default=Exists(chosen))
    )
    return views, next((view for view in views if getattr(view, "is_default", False)), None)


def saved_view_get(*, org: Organization, user: User, pk: Any) -> SavedView:
    """A view the member may use (their own or a shared one); anything else is not found."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        key = None
    found = (
        SavedView.objects.filter(Q(owner=user) | Q(shared=True), organization=org, pk=key).first()
        if key is not None
        else None
    )
    if found is None:
        raise NotFound("View not found.", code="not_found")
    return found


def default_view_for(*, org: Organization, user: User, kind: str) -> SavedView | None:
    """The view the member's ``kind`` list opens with, if they chose one they may still use."""
    default = (
        DefaultView.objects.filter(organization=org, user=user, kind=kind)
        .filter(Q(view__owner=user) | Q(view__shared=True))
        .select_related("view")
        .first()
    )
    return default.view if default else None


def bulk_job_get(*, org: Organization, pk: Any) -> BulkJob:
    try:
        key = int(pk)
    except (TypeError, ValueError):
        key = None
    found = BulkJob.objects.filter(organization=org, pk=key).first() if key is not None else None
    if found is None:
        raise NotFound("Bulk job not found.", code="not_found")
    return found


def export_job_get(*, org: Organization, user: User, pk: Any) -> ExportJob:
    """An export the member started: another member's, or another organization's, is not found."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        key = None
    found = (
        ExportJob.objects.filter(organization=org, created_by=user, pk=key).first()
        if key is not None
        else None
    )
    if found is None:
        raise NotFound("Export not found.", code="not_found")
    return found
