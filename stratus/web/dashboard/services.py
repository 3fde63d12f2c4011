"""Writes for the dashboard: named chart layouts, made and shared by admins and owners."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.platform.errors import Forbidden, Invalid, NotFound
from stratus.web.models import DASHBOARD_CHARTS, Dashboard

NAME_MAX = 80


def _check_admin(org: Organization, actor: User) -> None:
    membership = Membership.objects.filter(organization=org, user=actor).first()
    if membership is None or not membership.has_role(Role.ADMIN):
        raise Forbidden("Only admins and owners arrange dashboards.", code="forbidden")


def clean_charts(charts: Any) -> list[str]:
    """An ordered list of known chart keys, each once, at least one; else Invalid on ``charts``."""
    if not isinstance(charts, list | tuple) or not all(isinstance(key, str) for key in charts):
        raise Invalid("Invalid charts.", field_errors={"charts": ["Expected a list of chart keys."]})
    unknown = [key for key in charts if key not in DASHBOARD_CHARTS]
    if unknown:
        message = f"Unknown chart: {', '.join(unknown)}. Known: {', '.join(DASHBOARD_CHARTS)}."
        raise Invalid("Invalid charts.", field_errors={"charts": [message]})
    if len(set(charts)) != len(charts):
        raise Invalid("Invalid charts.", field_errors={"charts": ["Each chart at most once."]})
    if not charts:
        raise Invalid("Invalid charts.", field_errors={"charts": ["Pick at least one chart."]})
    return list(charts)


@transaction.atomic
def dashboard_save(
    *,
    org: Organization,
    actor: User,
    name: Any,
    charts: Any,
    shared: bool = False,
    dashboard: Dashboard | int | None = None,
) -> Dashboard:
    """Create (or, with ``dashboard``, change) a dashboard; admins and owners only."""
    _check_admin(org, actor)
    errors: dict[str, list[str]] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = ["Give the dashboard a name."]
    elif len(clean_name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    clean: list[str] = []
    try:
        clean = clean_charts(charts)
    except Invalid as refused:
        errors.update(refused.field_errors)
    if errors:
        raise Invalid("The dashboard cannot be saved.", field_errors=errors, code="invalid")
    if dashboard is None:
        saved = Dashboard(organization=org, created_by=actor)
    else:
        pk = dashboard.pk if isinstance(dashboard, Dashboard) else dashboard
        found = Dashboard.objects.select_for_update().filter(organization=org, pk=pk).first()
        if found is None:
            raise NotFound("Dashboard not found.", code="not_found")
        saved = found
    saved.name, saved.charts, saved.shared = clean_name, clean, bool(shared)
    saved.updated_at = timezone.now()
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError:
        raise Invalid(
            "A dashboard with this name exists.",
            field_errors={"name": ["A dashboard with this name exists."]},
            code="conflict",
        ) from None
    return saved


@transaction.atomic
def dashboard_delete(*, org: Organization, actor: User, dashboard: Dashboard | int) -> None:
    _check_admin(org, actor)
    pk = dashboard.pk if isinstance(dashboard, Dashboard) else dashboard
    deleted, _ = Dashboard.objects.filter(organization=org, pk=pk).delete()
    if not deleted:
        raise NotFound("Dashboard not found.", code="not_found")
