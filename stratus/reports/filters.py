"""Report filters from query parameters: checked, tenant-scoped, and turned into ReportFilters.

The same parsing serves the API and, later, the browser's dashboard. Every refusal names its
field: a date that is not ``YYYY-MM-DD``, a range that ends before it starts, an id that is
not a pipeline or a member of this organization (the same message whether it exists elsewhere
or not at all), a currency that is not three capitals, a filter the report does not take.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from stratus.accounts.models import Membership, Organization
from stratus.api.serializers import ID_MAX, ID_MIN
from stratus.crm.models import Pipeline
from stratus.platform.errors import Invalid
from stratus.reports.contracts import (
    ALL_FILTERS,
    CURRENCY,
    DATE_FROM,
    DATE_TO,
    OWNER,
    PIPELINE,
    ReportContract,
    ReportFilters,
)
from stratus.reports.errors import ReportsCode

DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
T = TypeVar("T")


def _date(value: str) -> datetime.date | str:
    if DATE_PATTERN.match(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    return "Must be a date (YYYY-MM-DD)."


def _id(value: str) -> int | None:
    if value.isascii() and value.isdigit() and ID_MIN <= int(value) <= ID_MAX:
        return int(value)
    return None


def report_filters(
    *,
    org: Organization,
    contract: ReportContract,
    params: Mapping[str, Sequence[str]],
    as_of: datetime.datetime,
) -> ReportFilters:
    """The filters of ``contract`` from ``params`` (name -> values sent); raises Invalid (400)
    naming every refused field. An empty value is no filter, as forms send it."""
    errors: dict[str, list[str]] = {}
    found: dict[str, object] = {}
    for name in ALL_FILTERS:
        sent = [value for value in params.get(name, ()) if value != ""]
        if not sent:
            continue
        if name not in contract.filters:
            errors[name] = [f"The {contract.name} report takes no {name} filter."]
            continue
        if len(sent) > 1:
            errors[name] = ["Give one value."]
            continue
        value = sent[0]
        if name in (DATE_FROM, DATE_TO):
            parsed = _date(value)
            if isinstance(parsed, str):
                errors[name] = [parsed]
            else:
                found[name] = parsed
        elif name == CURRENCY:
            if CURRENCY_PATTERN.match(value):
                found[name] = value
            else:
                errors[name] = ["Must be a three-letter ISO 4217 code in capitals, e.g. EUR."]
        else:
            pk = _id(value)
            if pk is None:
                errors[name] = [f"Must be an id from {ID_MIN} to {ID_MAX}."]
            elif name == PIPELINE and not Pipeline.objects.filter(organization=org, pk=pk).exists():
                errors[name] = [f"No pipeline with id {pk} in this organization."]
            elif name == OWNER and not Membership.objects.filter(organization=org, user_id=pk).exists():
                errors[name] = [f"No member with id {pk} in this organization."]
            else:
                found[name] = pk
    start, end = found.get(DATE_FROM), found.get(DATE_TO)
    if isinstance(start, datetime.date) and isinstance(end, datetime.date) and end < start:
        errors[DATE_TO] = ["Must not be before date_from."]
    if errors:
        raise Invalid("Invalid report filters.", field_errors=errors, code=ReportsCode.INVALID_FILTER)
    return ReportFilters(
        organization_id=org.pk,
        as_of=as_of,
        date_from=_typed(found.get(DATE_FROM), datetime.date),
        date_to=_typed(found.get(DATE_TO), datetime.date),
        pipeline_id=_typed(found.get(PIPELINE), int),
        owner_id=_typed(found.get(OWNER), int),
        currency=_typed(found.get(CURRENCY), str),
    )


def _typed(value: object, kind: type[T]) -> T | None:
    return value if isinstance(value, kind) else None
