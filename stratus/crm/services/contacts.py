"""Contacts: create, update, delete."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.crm import rules
from stratus.crm.models import Company, Contact, CustomFieldEntity
from stratus.crm.services import _kit as kit
from stratus.crm.services.tags import TAGS, checked_names
from stratus.platform.unset import UNSET, Unset, given

CONTACT_SCALAR = ("first_name", "last_name", "email", "phones", "job_title")
CONTACT_REFS = ("company", "owner")
MAX_PHONES = 20
PHONE_PATTERN = re.compile(r"[0-9+().,;#*xX /-]+|ext\.? ?\d+")


def _event_data(contact: Contact, action: str) -> Mapping[str, Any]:
    return {"name": str(contact)} if action == "created" else {}


CONTACTS = kit.Entity(
    model=Contact,
    label="Contact",
    event="contact",
    scalar=CONTACT_SCALAR,
    refs=CONTACT_REFS,
    links=(TAGS,),
    event_data=_event_data,
)


def _phones(value: Any, errors: kit.Errors) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        errors.add("phones", "Expected a list of phone numbers.")
        return []
    phones = []
    for raw in value:
        if not isinstance(raw, str) or not raw.strip():
            errors.add("phones", "Each phone number is a non-empty text.")
            return []
        if len(raw.strip()) > 50 or not PHONE_PATTERN.fullmatch(raw.strip()):
            errors.add("phones", f"{raw.strip()[:50]!r} is not a phone number.")
            return []
        phones.append(raw.strip())
    if len(phones) > MAX_PHONES:
        errors.add("phones", f"At most {MAX_PHONES} phone numbers.")
    return phones


def _apply(
    contact: Contact, org: Organization, data: Mapping[str, Any], creating: bool, errors: kit.Errors
) -> dict[str, list[str] | None]:
    for name in ("first_name", "last_name", "email", "job_title"):
        if name in data:
            setattr(contact, name, kit.clean_text(data[name]))
    if "phones" in data:
        contact.phones = _phones(data["phones"], errors)
    if "company" in data:
        contact.company = kit.tenant_ref(Company, org, data["company"], "company", errors)
    if "owner" in data:
        contact.owner = kit.member(org, data["owner"], "owner", errors)
    tags = checked_names(data["tags"], errors) if "tags" in data else None
    # The email is checked by its rule below (the model's check only for a value that is not text).
    checked = [n for n in ("first_name", "last_name", "job_title") if n in data]
    if "email" in data and not isinstance(contact.email, str):
        checked.append("email")
    kit.clean_fields(contact, checked, errors)
    if isinstance(contact.email, str) and contact.email:
        try:
            contact.email = rules.normalise_email(contact.email)
        except rules.RuleError as problem:
            errors.add(problem.field, problem.message)
    if not errors.fields:
        try:
            rules.check_contact_has_identity(
                first_name=contact.first_name, last_name=contact.last_name, email=contact.email
            )
        except rules.RuleError as problem:
            errors.add(problem.field, problem.message)
    kit.clean_custom(contact, org, CustomFieldEntity.CONTACT, data, creating, errors)
    return {"tags": tags}


@transaction.atomic
def contact_create(
    *,
    org: Organization,
    actor: User | None,
    first_name: str | Unset = UNSET,
    last_name: str | Unset = UNSET,
    email: str | Unset = UNSET,
    phones: Sequence[str] | Unset | None = UNSET,
    job_title: str | Unset = UNSET,
    company: Company | int | Unset | None = UNSET,
    owner: User | int | Unset | None = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
) -> Contact:
    """A contact: it has a first name, a last name or an email; the email is unique ignoring case."""
    data = given(
        first_name=first_name,
        last_name=last_name,
        email=email,
        phones=phones,
        job_title=job_title,
        company=company,
        owner=owner,
        tags=tags,
        custom_fields=custom_fields,
    )
    return kit.create(
        CONTACTS,
        org=org,
        actor=actor,
        record=Contact(organization=org),
        apply=lambda contact, errors: _apply(contact, org, data, True, errors),
    )


@transaction.atomic
def contact_update(
    *,
    org: Organization,
    actor: User | None,
    contact: Contact | int,
    first_name: str | Unset = UNSET,
    last_name: str | Unset = UNSET,
    email: str | Unset = UNSET,
    phones: Sequence[str] | Unset | None = UNSET,
    job_title: str | Unset = UNSET,
    company: Company | int | Unset | None = UNSET,
    owner: User | int | Unset | None = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
    expected_updated_at: datetime.datetime | None = None,
) -> Contact:
    """Change the fields given; ``tags`` replaces the tags, ``custom_fields`` is a patch.
    ``expected_updated_at``: the ``updated_at`` the caller read; when the record changed since,
    nothing is written (``Conflict``, ``CrmCode.STALE``)."""
    data = given(
        first_name=first_name,
        last_name=last_name,
        email=email,
        phones=phones,
        job_title=job_title,
        company=company,
        owner=owner,
        tags=tags,
        custom_fields=custom_fields,
    )
    return kit.update(
        CONTACTS,
        org=org,
        actor=actor,
        record=contact,
        apply=lambda found, errors: _apply(found, org, data, False, errors),
        expected_updated_at=expected_updated_at,
    ).record


@transaction.atomic
def contact_delete(*, org: Organization, actor: User | None, contact: Contact | int) -> None:
    kit.delete(CONTACTS, org=org, actor=actor, record=contact)
