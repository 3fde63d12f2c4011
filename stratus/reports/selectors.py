"""Reads of the reports app: the organization's exchange rates."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from stratus.accounts.models import Organization
from stratus.platform.errors import NotFound
from stratus.reports.models import ExchangeRate


def exchange_rate_list(*, org: Organization, currency_to: str | None = None) -> QuerySet[ExchangeRate]:
    rates = ExchangeRate.objects.filter(organization=org)
    if currency_to:
        rates = rates.filter(currency_to=currency_to)
    return rates.order_by("currency_to", "currency", "-valid_from", "-id")


def exchange_rate_get(*, org: Organization, pk: Any) -> ExchangeRate:
    try:
        key = int(pk)
    except (TypeError, ValueError):
        key = None
    found = ExchangeRate.objects.filter(organization=org, pk=key).first() if key is not None else None
    if found is None:
        raise NotFound("Exchange rate not found.", code="not_found")
    return found


def reporting_currencies(*, org: Organization) -> list[str]:
    """The currencies the organization has rates into."""
    return list(
        ExchangeRate.objects.filter(organization=org)
        .order_by("currency_to")
        .values_list("currency_to", flat=True)
        .distinct()
    )


def rates_in_force(*, org: Organization, currency_to: str, on: datetime.date) -> dict[str, ExchangeRate]:
    """Per currency, the rate into ``currency_to`` in force on ``on``: the latest one whose
    ``valid_from`` is on or before that day (one query)."""
    rates = ExchangeRate.objects.filter(
        organization=org, currency_to=currency_to, valid_from__lte=on
    ).order_by("currency", "-valid_from")
    found: dict[str, ExchangeRate] = {}
    for rate in rates:
        found.setdefault(rate.currency, rate)
    return found
