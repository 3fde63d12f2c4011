"""Writes of the reports app: the organization's exchange rates (admins; see api.py).

Every refusal names its field: a code that is not an ISO 4217 currency, a rate that is not a
positive number of at most 10 decimal places, a pair converting a currency into itself, a
second rate for the same pair and day.
"""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.platform.errors import Invalid, NotFound
from stratus.reports.currencies import currency_problem
from stratus.reports.errors import ReportsCode
from stratus.reports.models import RATE_DIGITS, RATE_PLACES, ExchangeRate
from stratus.reports.selectors import exchange_rate_get

FIELDS = ("currency", "currency_to", "rate", "valid_from")
# A rate as text: digits, an optional point and at most 10 places (no sign, exponent or spaces).
RATE_PATTERN = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,10})?$")


def _rate_problem(rate: object) -> str | None:
    if isinstance(rate, bool) or not isinstance(rate, decimal.Decimal | int | str):
        return 'Must be a decimal number written as a string, e.g. "1.0850".'
    if isinstance(rate, str) and not RATE_PATTERN.fullmatch(rate):
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", rate):
            return (
                f"At most {RATE_DIGITS - RATE_PLACES} digits before the decimal point and "
                f"{RATE_PLACES} after it."
            )
        if re.fullmatch(r"-[0-9]+(\.[0-9]+)?", rate):
            return "Must be greater than 0."
        return 'Must be a decimal number written as a string, e.g. "1.0850".'
    try:
        value = decimal.Decimal(rate)
    except decimal.InvalidOperation:
        return 'Must be a decimal number written as a string, e.g. "1.0850".'
    if not value.is_finite():
        return "Must be a finite number."
    if value <= 0:
        return "Must be greater than 0."
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > RATE_PLACES:
        return f"At most {RATE_PLACES} decimal places."
    if len(value.quantize(decimal.Decimal(1), rounding=decimal.ROUND_DOWN).as_tuple().digits) > (
        RATE_DIGITS - RATE_PLACES
    ):
        return f"At most {RATE_DIGITS - RATE_PLACES} digits before the decimal point."
    return None


def _check(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("currency", "currency_to"):
        problem = currency_problem(values.get(name))
        if problem:
            errors[name] = [problem]
    problem = _rate_problem(values.get("rate"))
    if problem:
        errors["rate"] = [problem]
    if not isinstance(values.get("valid_from"), datetime.date) or isinstance(
        values.get("valid_from"), datetime.datetime
    ):
        errors["valid_from"] = ["Must be a date (YYYY-MM-DD)."]
    if "currency" not in errors and values.get("currency") == values.get("currency_to"):
        errors["currency_to"] = ["Must differ from currency: a currency converts to itself at 1."]
    if errors:
        raise Invalid("Invalid exchange rate.", field_errors=errors, code=ReportsCode.INVALID_RATE)


def _saved(rate: ExchangeRate) -> ExchangeRate:
    try:
        with transaction.atomic():
            rate.save()
    except IntegrityError:
        raise Invalid(
            "Invalid exchange rate.",
            field_errors={
                "valid_from": [
                    f"A rate from {rate.currency} to {rate.currency_to} valid from {rate.valid_from} "
                    "exists already."
                ]
            },
            code=ReportsCode.DUPLICATE_RATE,
        ) from None
    return rate


@transaction.atomic
def exchange_rate_create(
    *,
    org: Organization,
    actor: User | None,
    currency: str,
    currency_to: str,
    rate: decimal.Decimal | str,
    valid_from: datetime.date,
) -> ExchangeRate:
    values = {"currency": currency, "currency_to": currency_to, "rate": rate, "valid_from": valid_from}
    _check(values)
    now = timezone.now()
    return _saved(
        ExchangeRate(
            organization=org,
            created_by=actor,
            currency=currency,
            currency_to=currency_to,
            rate=decimal.Decimal(rate),
            valid_from=valid_from,
            created_at=now,
            updated_at=now,
        )
    )


@transaction.atomic
def exchange_rate_update(*, org: Organization, actor: User | None, pk: int, **changes: Any) -> ExchangeRate:
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise Invalid(
            "Invalid exchange rate.",
            field_errors={name: ["Unknown field."] for name in unknown},
            code=ReportsCode.INVALID_RATE,
        )
    rate = exchange_rate_get(org=org, pk=pk)
    rate = type(rate).objects.select_for_update().get(pk=rate.pk)
    values = {name: changes.get(name, getattr(rate, name)) for name in FIELDS}
    _check(values)
    for name, value in values.items():
        setattr(rate, name, decimal.Decimal(value) if name == "rate" else value)
    rate.updated_at = timezone.now()
    return _saved(rate)


@transaction.atomic
def exchange_rate_delete(*, org: Organization, actor: User | None, pk: int) -> None:
    rate = exchange_rate_get(org=org, pk=pk)
    # Deleted exactly once: of two requests racing for the same rate, the one whose DELETE
    # finds no row any more answers 404, as if it had come second.
    deleted, _ = ExchangeRate.objects.filter(organization=org, pk=rate.pk).delete()
    if not deleted:
        raise NotFound("Exchange rate not found.", code="not_found")
