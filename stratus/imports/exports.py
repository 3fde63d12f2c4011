"""Streamed CSV exports of filtered contact, company and deal lists.

Rows are read with a server-side iterator and written as they are produced, so an export of
any size uses constant memory. Cells that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed with ``'`` (OWASP's advice
against CSV injection), and the file starts with a UTF-8 byte order mark so spreadsheet
programs read accents correctly.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from stratus.accounts.models import Organization
from stratus.crm import selectors
from stratus.crm.models import Company, Contact, CustomField, Deal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object whose ``write`` returns what it was given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield BOM + writer.writerow([neutralise(h) for h in header])
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def _custom_keys(org: Organization, entity: str) -> list[str]:
    return list(
        CustomField.objects.filter(organization=org, entity=entity)
        .order_by("position", "pk")
        .values_list("key", flat=True)
    )


def _user(user: Any) -> str:
    return "" if user is None else str(user.email)


def _tags(record: Any) -> str:
    return ", ".join(selectors.tag_names(record))


def _contact_row(contact: Contact, custom: list[str]) -> list[Any]:
    return [
        contact.pk,
        contact.first_name,
        contact.last_name,
        contact.email,
        ", ".join(str(p) for p in contact.phones or []),
        contact.job_title,
        contact.company.name if contact.company else "",
        _user(contact.owner),
        _tags(contact),
        contact.created_at.isoformat(),
        contact.updated_at.isoformat(),
        *[(contact.custom_fields or {}).get(key) for key in custom],
    ]


def _company_row(company: Company, custom: list[str]) -> list[Any]:
    return [
        company.pk,
        company.name,
        company.domain,
        company.website,
        company.phone,
        company.industry,
        company.city,
        company.country,
        _user(company.owner),
        _tags(company),
        company.created_at.isoformat(),
        company.updated_at.isoformat(),
        *[(company.custom_fields or {}).get(key) for key in custom],
    ]


def _deal_row(deal: Deal, custom: list[str]) -> list[Any]:
    return [
        deal.pk,
        deal.title,
        deal.value,
        deal.currency,
        deal.pipeline.name,
        deal.stage.name,
        deal.company.name if deal.company else "",
        _user(deal.owner),
        deal.expected_close_date.isoformat() if deal.expected_close_date else "",
        deal.created_at.isoformat(),
        deal.updated_at.isoformat(),
        *[(deal.custom_fields or {}).get(key) for key in custom],
    ]


HEADERS = {
    "contacts": [
        "id",
        "first_name",
        "last_name",
        "email",
        "phones",
        "job_title",
        "company",
        "owner",
        "tags",
        "created_at",
        "updated_at",
    ],
    "companies": [
        "id",
        "name",
        "domain",
        "website",
        "phone",
        "industry",
        "city",
        "country",
        "owner",
        "tags",
        "created_at",
        "updated_at",
    ],
    "deals": [
        "id",
        "title",
        "value",
        "currency",
        "pipeline",
        "stage",
        "company",
        "owner",
        "expected_close_date",
        "created_at",
        "updated_at",
    ],
}
ENTITY = {"contacts": "contact", "companies": "company", "deals": "deal"}
LISTS: dict[str, Callable[..., Any]] = {
    "contacts": selectors.contact_list,
    "companies": selectors.company_list,
    "deals": selectors.deal_list,
}
# The rows the export shows by name; list selectors leave single references as ids.
RELATED = {
    "contacts": ("company", "owner"),
    "companies": ("owner",),
    "deals": ("pipeline", "stage", "company", "owner"),
}
ROWS: dict[str, Callable[[Any, list[str]], list[Any]]] = {
    "contacts": _contact_row,
    "companies": _company_row,
    "deals": _deal_row,
}


def export_csv(
    *, org: Organization, kind: str, filters: Mapping[str, Any], ordering: str | None = None
) -> Iterator[str]:
    """The CSV text of a filtered list, in pieces. Bad filters raise before the first piece."""
    queryset = LISTS[kind](org=org, filters=filters, ordering=ordering).select_related(*RELATED[kind])
    custom = _custom_keys(org, ENTITY[kind])
    header = HEADERS[kind] + [f"custom.{key}" for key in custom]
    row = ROWS[kind]
    records = (row(record, custom) for record in queryset.iterator(chunk_size=1000))
    return stream_csv(header, records)
