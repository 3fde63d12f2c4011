"""Reads for the dashboard: the dashboards a member may pick, and the currencies deals are in."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from stratus.accounts.models import Organization, User
from stratus.crm import selectors as crm_selectors
from stratus.platform.errors import NotFound
from stratus.web.models import Dashboard


def dashboard_list(*, org: Organization, user: User) -> QuerySet[Dashboard]:
    """The dashboards ``user`` may pick: the organization's shared ones and their own."""
    return Dashboard.objects.filter(Q(shared=True) | Q(created_by=user), organization=org).order_by(
        "name", "pk"
    )


def dashboard_get(*, org: Organization, user: User, pk: Any) -> Dashboard:
    """One dashboard ``user`` may see (the same answer for another organization's and none)."""
    key = int(pk) if isinstance(pk, int) or (isinstance(pk, str) and pk.isdigit()) else None
    found = None if key is None else dashboard_list(org=org, user=user).filter(pk=key).first()
    if found is None:
        raise NotFound("Dashboard not found.", code="not_found")
    return found


def deal_currencies(*, org: Organization) -> list[str]:
    """The currencies the organization's deals are in (money is shown per currency)."""
    rows = crm_selectors.deal_list(org=org).order_by().values_list("currency", flat=True).distinct()
    return sorted(currency for currency in rows if currency)
