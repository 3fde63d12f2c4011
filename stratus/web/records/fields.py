"""The fields of a record page: how each is shown, edited, read back from a form and saved.

A field's form value is turned into the JSON type the API takes (an id, a list, a string for
decimals and dates), checked by the API's own write serializer, then given to the same crm
service as the API, with keyword arguments named like the serializer's fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Organization
from stratus.crm import api as crm_api
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.models import (
    Company,
    Contact,
    CustomField,
    CustomFieldEntity,
    CustomFieldType,
    Deal,
)

# Choice lists in an edit form are bounded; a record outside the first ones is still shown selected.
CHOICES_LIMIT = 500


@dataclass(frozen=True)
class FieldSpec:
    """One editable field. ``widget``: text, email, url, textarea, number, date, list, ref, refs, choice."""

    name: str
    label: Any
    widget: str = "text"
    max_length: int | None = None
    help_text: Any = ""


@dataclass(frozen=True)
class RecordKind:
    """What the pages need to know about one record type."""

    name: str  # contact, company, deal (also the service's record argument)
    plural: str  # contacts, companies, deals (the URL prefix)
    label: Any
    model: type[Contact] | type[Company] | type[Deal]
    entity: str
    fields: tuple[FieldSpec, ...]
    header: tuple[str, ...]
    write_serializer: type[serializers.Serializer]
    get_one: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]
    related: tuple[str, ...] = field(default=())

    def spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _contact_get(*, org: Organization, pk: Any) -> Contact:
    contact: Contact = crm_selectors.contact_get(org=org, pk=pk)
    return contact


CONTACT = RecordKind(
    name="contact",
    plural="contacts",
    label=_("Contact"),
    model=Contact,
    entity=CustomFieldEntity.CONTACT,
    fields=(
        FieldSpec("first_name", _("First name"), max_length=100),
        FieldSpec("last_name", _("Last name"), max_length=100),
        FieldSpec("email", _("E-mail"), "email", max_length=254),
        FieldSpec("phones", _("Phones"), "list", help_text=_("Separate phone numbers with commas.")),
        FieldSpec("job_title", _("Job title"), max_length=150),
        FieldSpec("company", _("Company"), "ref"),
        FieldSpec("owner", _("Owner"), "ref"),
        FieldSpec("tags", _("Tags"), "list", help_text=_("Separate tags with commas.")),
    ),
    header=("email", "job_title", "company", "owner"),
    write_serializer=crm_api.ContactWriteSerializer,
    get_one=_contact_get,
    update=crm_services.contact_update,
    delete=crm_services.contact_delete,
    related=("company", "deals"),
)

COMPANY = RecordKind(
    name="company",
    plural="companies",
    label=_("Company"),
    model=Company,
    entity=CustomFieldEntity.COMPANY,
    fields=(
        FieldSpec("name", _("Name"), max_length=200),
        FieldSpec("domain", _("Domain"), max_length=253),
        FieldSpec("website", _("Website"), "url", max_length=500),
        FieldSpec("phone", _("Phone"), max_length=50),
        FieldSpec("industry", _("Industry"), max_length=100),
        FieldSpec("city", _("City"), max_length=100),
        FieldSpec("country", _("Country"), max_length=2, help_text=_("Two-letter code, e.g. DE.")),
        FieldSpec("description", _("Description"), "textarea"),
        FieldSpec("owner", _("Owner"), "ref"),
        FieldSpec("tags", _("Tags"), "list", help_text=_("Separate tags with commas.")),
    ),
    header=("domain", "industry", "city", "owner"),
    write_serializer=crm_api.CompanyWriteSerializer,
    get_one=crm_selectors.company_get,
    update=crm_services.company_update,
    delete=crm_services.company_delete,
    related=("contacts", "deals"),
)

DEAL = RecordKind(
    name="deal",
    plural="deals",
    label=_("Deal"),
    model=Deal,
    entity=CustomFieldEntity.DEAL,
    fields=(
        FieldSpec("title", _("Title"), max_length=200),
        FieldSpec("value", _("Value"), "number"),
        FieldSpec("currency", _("Currency"), max_length=3, help_text=_("Three-letter code, e.g. EUR.")),
        FieldSpec("stage", _("Stage"), "ref"),
        FieldSpec("company", _("Company"), "ref"),
        FieldSpec("contacts", _("Contacts"), "refs"),
        FieldSpec("owner", _("Owner"), "ref"),
        FieldSpec("expected_close_date", _("Expected close date"), "date"),
        FieldSpec("lost_reason", _("Lost reason"), "textarea"),
        FieldSpec("tags", _("Tags"), "list", help_text=_("Separate tags with commas.")),
    ),
    header=("value", "stage", "company", "owner", "expected_close_date"),
    write_serializer=crm_api.DealWriteSerializer,
    get_one=crm_selectors.deal_get,
    update=crm_services.deal_update,
    delete=crm_services.deal_delete,
    related=("company", "contacts"),
)

KINDS: dict[str, RecordKind] = {kind.name: kind for kind in (CONTACT, COMPANY, DEAL)}

CUSTOM_PREFIX = "custom_fields."


def custom_spec(definition: CustomField) -> FieldSpec:
    widget = {
        CustomFieldType.NUMBER: "number",
        CustomFieldType.DATE: "date",
        CustomFieldType.CHOICE: "choice",
        CustomFieldType.BOOLEAN: "boolean",
    }.get(CustomFieldType(definition.field_type), "text")
    return FieldSpec(CUSTOM_PREFIX + definition.key, definition.label, widget)


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def _id_or_text(text: str) -> int | str | None:
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 19 else text


def form_value(spec: FieldSpec, form: QueryDict) -> Any:
    """The JSON value the API would receive for ``spec`` from the submitted ``form``."""
    raw = form.get("value", "")
    if spec.name.startswith(CUSTOM_PREFIX):
        return raw if raw.strip() else None
    if spec.widget == "list":
        return _split(raw)
    if spec.widget == "ref":
        return _id_or_text(raw)
    if spec.widget == "refs":
        return [_id_or_text(v) for v in form.getlist("value") if v.strip()]
    if spec.widget == "date":
        return raw.strip() or None
    if spec.widget == "number":
        return raw.strip()
    return raw


def payload(kind: RecordKind, spec: FieldSpec, form: QueryDict) -> dict[str, Any]:
    """The keyword arguments of the update service for one field (before the serializer's check)."""
    value = form_value(spec, form)
    if spec.name.startswith(CUSTOM_PREFIX):
        return {"custom_fields": {spec.name.removeprefix(CUSTOM_PREFIX): value}}
    data: dict[str, Any] = {spec.name: value}
    # Moving a deal to a lost stage needs the reason, given in the same form.
    if kind is DEAL and spec.name == "stage" and form.get("lost_reason", "").strip():
        data["lost_reason"] = form["lost_reason"]
    return data


def display(record: Model, spec: FieldSpec, tag_names: list[str]) -> Any:
    """The value of ``spec`` on ``record`` as the page shows it (from what the page loaded)."""
    if spec.name.startswith(CUSTOM_PREFIX):
        value = (getattr(record, "custom_fields", None) or {}).get(spec.name.removeprefix(CUSTOM_PREFIX))
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        return value
    if spec.name == "tags":
        return ", ".join(tag_names)
    if spec.name == "phones":
        return ", ".join(getattr(record, "phones", None) or [])
    if spec.name == "owner":
        owner = getattr(record, "owner", None)
        return (owner.full_name or owner.email) if owner is not None else None
    if spec.name == "contacts":
        return None  # shown as the related contacts
    return getattr(record, spec.name)


def edit_value(record: Model, spec: FieldSpec, tag_names: list[str]) -> Any:
    """The value an edit form starts with."""
    if spec.name.startswith(CUSTOM_PREFIX):
        value = (getattr(record, "custom_fields", None) or {}).get(spec.name.removeprefix(CUSTOM_PREFIX))
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else value
    if spec.widget == "ref":
        return getattr(record, f"{spec.name}_id")
    if spec.widget == "refs":
        return crm_selectors.contact_ids(record)  # type: ignore[arg-type]
    if spec.name in ("tags", "phones"):
        return display(record, spec, tag_names)
    value = getattr(record, spec.name)
    return "" if value is None else value


def choices(org: Organization, record: Model, spec: FieldSpec) -> list[tuple[Any, str]]:
    """The options of a select for ``spec`` (bounded), the record's current ones included."""
    if spec.name == "owner":
        members = account_selectors.member_choices(org=org)[:CHOICES_LIMIT]
        return [(m.user_id, m.user.full_name or m.user.email) for m in members]
    if spec.name == "company":
        companies = list(crm_selectors.company_choices(org=org)[:CHOICES_LIMIT])
        current = getattr(record, "company", None)
        if current is not None and current not in companies:
            companies.insert(0, current)
        return [(c.pk, c.name) for c in companies]
    if spec.name == "stage" and isinstance(record, Deal):
        stages = crm_selectors.stage_list(org=org, pipeline_id=record.pipeline_id)
        return [(s.pk, s.name) for s in stages]
    if spec.name == "contacts" and isinstance(record, Deal):
        contacts = list(crm_selectors.contact_choices(org=org)[:CHOICES_LIMIT])
        chosen = crm_selectors.contact_ids(record)
        contacts += [c for c in crm_selectors.contact_choices(org=org, ids=chosen) if c not in contacts]
        return [(c.pk, str(c)) for c in contacts]
    return []


def messages_of(errors: Mapping[str, Any]) -> list[str]:
    """Every message of a serializer's or a service's field errors, flattened (one field's form
    sends one field, or two for a stage and its lost reason)."""
    messages: list[str] = []
    for value in errors.values():
        if isinstance(value, Mapping):  # nested errors (custom_fields)
            messages.extend(messages_of(value))
        elif isinstance(value, list | tuple):
            messages.extend(str(m) for m in value)
        else:
            messages.append(str(value))
    return messages
