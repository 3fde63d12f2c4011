"""Companies: create, update, delete."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.crm import rules
from stratus.crm.models import Company, CustomFieldEntity
from stratus.crm.services import _kit as kit
from stratus.crm.services.tags import TAGS, checked_names
from stratus.platform.unset import UNSET, Unset, given

COMPANY_SCALAR = ("name", "domain", "website", "phone", "industry", "city", "country", "description")
COMPANY_REFS = ("owner",)


def _event_data(company: Company, action: str) -> Mapping[str, Any]:
    return {"name": company.name} if action == "created" else {}


COMPANIES = kit.Entity(
    model=Company,
    label="Company",
    event="company",
    scalar=COMPANY_SCALAR,
    refs=COMPANY_REFS,
    links=(TAGS,),
    event_data=_event_data,
)


def _apply(
    company: Company, org: Organization, data: Mapping[str, Any], creating: bool, errors: kit.Errors
) -> dict[str, list[str] | None]:
    for name in COMPANY_SCALAR:
        if name in data:
            setattr(company, name, kit.clean_text(data[name]))
    if isinstance(company.domain, str):
        try:
            company.domain = rules.normalise_domain(company.domain)
        except rules.RuleError as problem:
            errors.add(problem.field, problem.message)
    if isinstance(company.country, str):
        company.country = company.country.upper()
        if company.country and not re.fullmatch(r"[A-Z]{2}", company.country):
            errors.add("country", "Expected an ISO 3166-1 alpha-2 code such as DE or US.")
    if "owner" in data:
        company.owner = kit.member(org, data["owner"], "owner", errors)
    tags = checked_names(data["tags"], errors) if "tags" in data else None
    kit.clean_fields(company, [n for n in COMPANY_SCALAR if n in data or creating], errors)
    kit.clean_custom(company, org, CustomFieldEntity.COMPANY, data, creating, errors)
    return {"tags": tags}


@transaction.atomic
def company_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    domain: str | Unset = UNSET,
    website: str | Unset = UNSET,
    phone: str | Unset = UNSET,
    industry: str | Unset = UNSET,
    city: str | Unset = UNSET,
    country: str | Unset = UNSET,
    description: str | Unset = UNSET,
    owner: User | int | Unset | None = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
) -> Company:
    """A company; ``domain`` is stored normalised (``https://www.Acme.example/`` is ``acme.example``)."""
    data = given(
        name=name,
        domain=domain,
        website=website,
        phone=phone,
        industry=industry,
        city=city,
        country=country,
        description=description,
        owner=owner,
        tags=tags,
        custom_fields=custom_fields,
    )
    return kit.create(
        COMPANIES,
        org=org,
        actor=actor,
        record=Company(organization=org),
        apply=lambda company, errors: _apply(company, org, data, True, errors),
    )


@transaction.atomic
def company_update(
    *,
    org: Organization,
    actor: User | None,
    company: Company | int,
    name: str | Unset = UNSET,
    domain: str | Unset = UNSET,
    website: str | Unset = UNSET,
    phone: str | Unset = UNSET,
    industry: str | Unset = UNSET,
    city: str | Unset = UNSET,
    country: str | Unset = UNSET,
    description: str | Unset = UNSET,
    owner: User | int | Unset | None = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
    expected_updated_at: datetime.datetime | None = None,
) -> Company:
    """Change the fields given; ``tags`` replaces the tags, ``custom_fields`` is a patch.
    ``expected_updated_at``: the ``updated_at`` the caller read; when the record changed since,
    nothing is written (``Conflict``, ``CrmCode.STALE``)."""
    data = given(
        name=name,
        domain=domain,
        website=website,
        phone=phone,
        industry=industry,
        city=city,
        country=country,
        description=description,
        owner=owner,
        tags=tags,
        custom_fields=custom_fields,
    )
    return kit.update(
        COMPANIES,
        org=org,
        actor=actor,
        record=company,
        apply=lambda found, errors: _apply(found, org, data, False, errors),
        expected_updated_at=expected_updated_at,
    ).record


@transaction.atomic
def company_delete(*, org: Organization, actor: User | None, company: Company | int) -> None:
    """Delete a company (its contacts and deals stay, without it; its activities go with it)."""
    kit.delete(COMPANIES, org=org, actor=actor, record=company)
