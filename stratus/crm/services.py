"""Writes to CRM records.

Every service takes the organization (``org``) and the acting user (``actor``, None for
the system), runs in one transaction, refuses bad input with one ``ApplicationError``
naming every bad field (nothing is written then), records a timeline entry with the
changed fields' old and new values, and announces the change through realtime
``publish`` (delivered after commit).

References passed in (company, owner, stage, contacts, ...) may be model instances or
ids; either way they must belong to ``org`` (users: be members of it), else they are a
field error. Records to change are re-read under ``select_for_update`` inside ``org``.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Max
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import custom_fields as cf
from stratus.crm import rules, timeline
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    CustomFieldEntity,
    Deal,
    Pipeline,
    Stage,
    StageKind,
    Tag,
    TenantModel,
)
from stratus.platform.errors import Conflict, Invalid, NotFound
from stratus.realtime.events import publish

M = TypeVar("M", bound=models.Model)

DEFAULT_STAGES: tuple[tuple[str, int, str], ...] = (
    ("Lead", 10, StageKind.OPEN),
    ("Qualified", 25, StageKind.OPEN),
    ("Proposal", 50, StageKind.OPEN),
    ("Negotiation", 75, StageKind.OPEN),
    ("Won", 100, StageKind.WON),
    ("Lost", 0, StageKind.LOST),
)
MAX_TAGS = rules.MAX_TAGS
MAX_PHONES = 20
MAX_DEAL_CONTACTS = 100
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# Positions are renumbered in two steps so the unique (pipeline, position) never collides.
POSITION_OFFSET = 1_000_000

# A violated constraint becomes an error on the field a user can fix.
CONSTRAINT_ERRORS: dict[str, tuple[str, str]] = {
    "crm_contact_email_unique_ci": ("email", "A contact with this email already exists."),
    "crm_contact_has_identity": ("first_name", rules.CONTACT_IDENTITY),
    "crm_pipeline_name_unique_ci": ("name", "A pipeline with this name already exists."),
    "crm_stage_name_unique_ci": ("name", "This pipeline already has a stage with this name."),
    "crm_customfield_key_unique": (
        "key",
        "A custom field with this key already exists for this record type.",
    ),
    "crm_tag_name_unique_ci": ("tags", "A tag with this name already exists."),
}


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def merge(self, errors: Mapping[str, Sequence[str]]) -> None:
        for field, messages in errors.items():
            for message in messages:
                self.add(field, message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise Invalid("Some fields are invalid.", field_errors=self.fields, code="invalid")


# --- helpers --------------------------------------------------------------------------------------


def _id_of(value: Any) -> int | None:
    if isinstance(value, models.Model):
        return int(value.pk)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _tenant_ref(model: type[M], org: Organization, value: Any, field: str, errors: _Errors) -> M | None:
    """The ``model`` row of ``org`` that ``value`` (an instance or an id) names; None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, model) and getattr(value, "organization_id", None) == org.pk:
        return value
    pk = _id_of(value)
    found = None
    if pk is not None and not isinstance(value, models.Model):
        found = model._default_manager.filter(organization=org, pk=pk).first()
    if found is None:
        errors.add(field, f"No {model._meta.verbose_name} with this id in this organization.")
    return found


def _member(org: Organization, value: Any, field: str, errors: _Errors) -> User | None:
    """A user who is a member of ``org``; None if empty."""
    if value is None or value == "":
        return None
    pk = _id_of(value)
    found = None
    if pk is not None:
        found = User.objects.filter(pk=pk, memberships__organization=org).first()
    if found is None:
        errors.add(field, "No member of this organization with this id.")
    return found


def _load_for_update(model: type[M], org: Organization, record: M | int, label: str) -> M:
    """Re-read ``record`` inside ``org`` under a row lock; unknown ids are a 404."""
    pk = _id_of(record)
    found = (
        model._default_manager.select_for_update().filter(organization=org, pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotFound(f"{label} not found.", code="not_found")
    return found


def _clean_text(value: Any) -> Any:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _check_unknown(data: Mapping[str, Any], allowed: Iterable[str], errors: _Errors) -> None:
    for name in sorted(set(data) - set(allowed)):
        errors.add(name, "Unknown field.")


def _clean_fields(instance: models.Model, names: Iterable[str], errors: _Errors) -> None:
    """Model field validation (lengths, formats, choices, blank) for ``names``; errors by field."""
    wanted = set(names)
    exclude = [f.name for f in instance._meta.concrete_fields if f.name not in wanted]
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as exc:
        errors.merge(exc.message_dict)


def _save(instance: models.Model, **kwargs: Any) -> None:
    """Save in a savepoint, turning a violated constraint into a field error."""
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:
        _raise_constraint(exc)
        raise


def _raise_constraint(exc: IntegrityError) -> None:
    text = str(exc)
    for name, (field, message) in CONSTRAINT_ERRORS.items():
        if name in text:
            raise Invalid(message, field_errors={field: [message]}, code="conflict") from exc


def _clean_custom(
    instance: Contact | Company | Deal,
    org: Organization,
    entity: str,
    data: Mapping[str, Any],
    creating: bool,
    errors: _Errors,
) -> None:
    if not creating and "custom_fields" not in data:
        return
    definitions = cf.definitions_for(org=org, entity=entity)
    values, custom_errors = cf.clean_values(
        definitions=definitions,
        values=data.get("custom_fields"),
        current=instance.custom_fields or {},
        creating=creating,
    )
    instance.custom_fields = values
    errors.merge(custom_errors)


def _tag_names(value: Any, errors: _Errors) -> list[str] | None:
    try:
        return rules.tag_names(value)
    except rules.RuleError as problem:
        errors.add(problem.field, problem.message)
        return None


def _tags_for(org: Organization, names: Sequence[str]) -> list[Tag]:
    """The tags named ``names`` (ignoring case), created when missing."""
    if not names:
        return []
    wanted = {rules.tag_key(name): name for name in names}
    existing = {
        rules.tag_key(t.name): t for t in Tag.objects.filter(organization=org, name__iregex=_any_of(wanted))
    }
    missing = [Tag(organization=org, name=name) for key, name in wanted.items() if key not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {
            rules.tag_key(t.name): t
            for t in Tag.objects.filter(organization=org, name__iregex=_any_of(wanted))
        }
    return [existing[key] for key in wanted if key in existing]


def _any_of(lowered: Mapping[str, str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in lowered) + ")$"


def _snapshot(
    instance: TenantModel, scalar: Iterable[str], refs: Iterable[str], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    snap = {name: timeline.jsonable(getattr(instance, name)) for name in scalar}
    for name in refs:
        snap[name] = getattr(instance, f"{name}_id")
    for key, value in (getattr(instance, "custom_fields", None) or {}).items():
        snap[f"custom_fields.{key}"] = value
    if extra:
        snap.update({k: timeline.jsonable(v) for k, v in extra.items()})
    return snap


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _created_changes(snapshot: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (None, value) for key, value in snapshot.items() if value not in (None, "", [], {})}


def _announce(org: Organization, event: str, data: Mapping[str, Any]) -> None:
    publish(organization_id=org.pk, event=event, data=data)


# --- imports --------------------------------------------------------------------------------------

IMPORT_EVENTS = {"contact": "contact.imported", "company": "company.imported"}


def tags_for(*, org: Organization, names: Iterable[str]) -> dict[str, Tag]:
    """``org``'s tags named ``names`` (each checked by the tag rule), created when missing,
    keyed by ``rules.tag_key``."""
    wanted: dict[str, str] = {}
    for name in names:
        checked = rules.tag_name(name)
        wanted.setdefault(rules.tag_key(checked), checked)
    return {rules.tag_key(tag.name): tag for tag in _tags_for(org, list(wanted.values()))}


@transaction.atomic
def records_import(
    *,
    org: Organization,
    actor: User | None,
    import_id: int,
    created: Sequence[Contact | Company],
    updated: Sequence[Contact | Company],
    fields: Sequence[str],
    tags: Sequence[tuple[Contact | Company, Sequence[str]]] = (),
) -> None:
    """Write one chunk of imported contacts or companies in bulk (values already checked by
    ``rules``): ``created`` are inserted, ``fields`` of ``updated`` saved, ``tags`` added.

    Each record gets an ``imported`` timeline entry (``data``: the import and whether the
    record was created or updated), and the chunk is announced after commit as one
    ``contact.imported`` / ``company.imported`` event with the records' ids.
    """
    records = [*created, *updated]
    if not records:
        return
    model: Any = type(records[0])
    if any(type(record) is not model or record.organization_id != org.pk for record in records):
        raise ValueError("records_import takes records of one type, of the organization")
    model.objects.bulk_create(list(created))
    if updated:
        now = timezone.now()
        for record in updated:
            record.updated_at = now
        model.objects.bulk_update(list(updated), [*fields, "updated_at"])
    tag_rows = tags_for(org=org, names=[name for _, names in tags for name in names])
    through: Any = model.tags.through
    column = f"{model._meta.model_name}_id"
    links = [
        through(**{column: record.pk, "tag_id": tag_rows[rules.tag_key(name)].pk})
        for record, names in tags
        for name in names
    ]
    if links:
        through.objects.bulk_create(links, ignore_conflicts=True)
    for targets, outcome in ((created, "created"), (updated, "updated")):
        if targets:
            timeline.record_many(
                organization=org,
                actor=actor,
                targets=targets,
                action="imported",
                data={"import": import_id, "outcome": outcome},
            )
    _announce(
        org,
        IMPORT_EVENTS[str(model._meta.model_name)],
        {
            "import": import_id,
            "ids": [record.pk for record in records],
            "created": len(created),
            "updated": len(updated),
        },
    )


# --- companies ------------------------------------------------------------------------------------

COMPANY_SCALAR = ("name", "domain", "website", "phone", "industry", "city", "country", "description")
COMPANY_REFS = ("owner",)
COMPANY_FIELDS = (*COMPANY_SCALAR, *COMPANY_REFS, "tags", "custom_fields")


def _company_apply(
    company: Company, org: Organization, data: Mapping[str, Any], creating: bool
) -> list[str] | None:
    errors = _Errors()
    _check_unknown(data, COMPANY_FIELDS, errors)
    for name in COMPANY_SCALAR:
        if name in data:
            setattr(company, name, _clean_text(data[name]))
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
        company.owner = _member(org, data["owner"], "owner", errors)
    tags = _tag_names(data["tags"], errors) if "tags" in data else None
    _clean_fields(company, [n for n in COMPANY_SCALAR if n in data or creating], errors)
    _clean_custom(company, org, CustomFieldEntity.COMPANY, data, creating, errors)
    errors.raise_if_any()
    return tags


@transaction.atomic
def company_create(*, org: Organization, actor: User | None, **data: Any) -> Company:
    company = Company(organization=org)
    tags = _company_apply(company, org, data, creating=True)
    _save(company)
    tag_rows = _tags_for(org, tags or [])
    company.tags.set(tag_rows)
    snap = _snapshot(company, COMPANY_SCALAR, COMPANY_REFS, {"tags": sorted(t.name for t in tag_rows)})
    timeline.record(
        organization=org, actor=actor, target=company, action="created", changes=_created_changes(snap)
    )
    _announce(org, "company.created", {"id": company.pk, "name": company.name})
    return company


@transaction.atomic
def company_update(*, org: Organization, actor: User | None, company: Company | int, **data: Any) -> Company:
    company = _load_for_update(Company, org, company, "Company")
    old_tags = sorted(company.tags.values_list("name", flat=True))
    before = _snapshot(company, COMPANY_SCALAR, COMPANY_REFS, {"tags": old_tags})
    tags = _company_apply(company, org, data, creating=False)
    new_tags = old_tags
    if tags is not None:
        tag_rows = _tags_for(org, tags)
        company.tags.set(tag_rows)
        new_tags = sorted(t.name for t in tag_rows)
    after = _snapshot(company, COMPANY_SCALAR, COMPANY_REFS, {"tags": new_tags})
    changes = _diff(before, after)
    if changes:
        _save(company)
        timeline.record(organization=org, actor=actor, target=company, action="updated", changes=changes)
        _announce(org, "company.updated", {"id": company.pk, "fields": sorted(changes)})
    return company


@transaction.atomic
def company_delete(*, org: Organization, actor: User | None, company: Company | int) -> None:
    company = _load_for_update(Company, org, company, "Company")
    snap = _snapshot(company, COMPANY_SCALAR, COMPANY_REFS)
    timeline.record(organization=org, actor=actor, target=company, action="deleted", data=snap)
    _announce(org, "company.deleted", {"id": company.pk})
    company.delete()


# --- contacts -------------------------------------------------------------------------------------

CONTACT_SCALAR = ("first_name", "last_name", "email", "phones", "job_title")
CONTACT_REFS = ("company", "owner")
CONTACT_FIELDS = (*CONTACT_SCALAR, *CONTACT_REFS, "tags", "custom_fields")


def _phones(value: Any, errors: _Errors) -> list[str]:
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
        if len(raw.strip()) > 50 or not re.fullmatch(r"[0-9+().,;#*xX /-]+|ext\.? ?\d+", raw.strip()):
            errors.add("phones", f"{raw.strip()[:50]!r} is not a phone number.")
            return []
        phones.append(raw.strip())
    if len(phones) > MAX_PHONES:
        errors.add("phones", f"At most {MAX_PHONES} phone numbers.")
    return phones


def _contact_apply(
    contact: Contact, org: Organization, data: Mapping[str, Any], creating: bool
) -> list[str] | None:
    errors = _Errors()
    _check_unknown(data, CONTACT_FIELDS, errors)
    for name in ("first_name", "last_name", "email", "job_title"):
        if name in data:
            setattr(contact, name, _clean_text(data[name]))
    if "phones" in data:
        contact.phones = _phones(data["phones"], errors)
    if "company" in data:
        contact.company = _tenant_ref(Company, org, data["company"], "company", errors)
    if "owner" in data:
        contact.owner = _member(org, data["owner"], "owner", errors)
    tags = _tag_names(data["tags"], errors) if "tags" in data else None
    # The email is checked by its rule below (the model's check only for a value that is not text).
    checked = [n for n in ("first_name", "last_name", "job_title") if n in data]
    if "email" in data and not isinstance(contact.email, str):
        checked.append("email")
    _clean_fields(contact, checked, errors)
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
    _clean_custom(contact, org, CustomFieldEntity.CONTACT, data, creating, errors)
    errors.raise_if_any()
    return tags


@transaction.atomic
def contact_create(*, org: Organization, actor: User | None, **data: Any) -> Contact:
    contact = Contact(organization=org)
    tags = _contact_apply(contact, org, data, creating=True)
    _save(contact)
    tag_rows = _tags_for(org, tags or [])
    if tag_rows:
        contact.tags.set(tag_rows)
    snap = _snapshot(contact, CONTACT_SCALAR, CONTACT_REFS, {"tags": sorted(t.name for t in tag_rows)})
    timeline.record(
        organization=org, actor=actor, target=contact, action="created", changes=_created_changes(snap)
    )
    _announce(org, "contact.created", {"id": contact.pk, "name": str(contact)})
    return contact


@transaction.atomic
def contact_update(*, org: Organization, actor: User | None, contact: Contact | int, **data: Any) -> Contact:
    contact = _load_for_update(Contact, org, contact, "Contact")
    old_tags = sorted(contact.tags.values_list("name", flat=True))
    before = _snapshot(contact, CONTACT_SCALAR, CONTACT_REFS, {"tags": old_tags})
    tags = _contact_apply(contact, org, data, creating=False)
    new_tags = old_tags
    if tags is not None:
        tag_rows = _tags_for(org, tags)
        contact.tags.set(tag_rows)
        new_tags = sorted(t.name for t in tag_rows)
    after = _snapshot(contact, CONTACT_SCALAR, CONTACT_REFS, {"tags": new_tags})
    changes = _diff(before, after)
    if changes:
        _save(contact)
        timeline.record(organization=org, actor=actor, target=contact, action="updated", changes=changes)
        _announce(org, "contact.updated", {"id": contact.pk, "fields": sorted(changes)})
    return contact


@transaction.atomic
def contact_delete(*, org: Organization, actor: User | None, contact: Contact | int) -> None:
    contact = _load_for_update(Contact, org, contact, "Contact")
    snap = _snapshot(contact, CONTACT_SCALAR, CONTACT_REFS)
    timeline.record(organization=org, actor=actor, target=contact, action="deleted", data=snap)
    _announce(org, "contact.deleted", {"id": contact.pk})
    contact.delete()


# --- pipelines and stages -------------------------------------------------------------------------

PIPELINE_SCALAR = ("name", "position", "is_default")
STAGE_SCALAR = ("name", "position", "probability", "kind")


def _stage_values(
    data: Mapping[str, Any], errors: _Errors, prefix: str = "", current: Stage | None = None
) -> dict[str, Any]:
    """Name, kind and probability of a stage (won is 100%, lost 0%) from input merged on ``current``."""
    name = _clean_text(data["name"]) if "name" in data else (current.name if current else "")
    kind = data.get("kind", current.kind if current else StageKind.OPEN)
    if kind not in StageKind.values:
        errors.add(f"{prefix}kind", f"Expected one of: {', '.join(StageKind.values)}.")
        kind = StageKind.OPEN
    probability: Any
    if "probability" in data and data["probability"] is not None:
        probability = data["probability"]
    elif kind == StageKind.WON:
        probability = 100
    elif kind == StageKind.LOST:
        probability = 0
    else:
        probability = current.probability if current and current.kind == StageKind.OPEN else 0
    if isinstance(probability, bool) or not isinstance(probability, int) or not 0 <= probability <= 100:
        errors.add(f"{prefix}probability", "Expected a whole number from 0 to 100.")
    elif kind == StageKind.WON and probability != 100:
        errors.add(f"{prefix}probability", "A won stage has a probability of 100.")
    elif kind == StageKind.LOST and probability != 0:
        errors.add(f"{prefix}probability", "A lost stage has a probability of 0.")
    if not isinstance(name, str) or not name:
        errors.add(f"{prefix}name", "This field may not be blank.")
    elif len(name) > 100:
        errors.add(f"{prefix}name", "At most 100 characters.")
    return {"name": name, "kind": kind, "probability": probability}


def _renumber(pipeline: Pipeline, ordered: Sequence[Stage]) -> None:
    Stage.objects.filter(pipeline=pipeline).update(position=F("position") + POSITION_OFFSET)
    for index, stage in enumerate(ordered):
        stage.position = index
    Stage.objects.bulk_update(ordered, ["position"])


def _pipeline_apply(pipeline: Pipeline, data: Mapping[str, Any], errors: _Errors) -> None:
    if "name" in data:
        pipeline.name = _clean_text(data["name"])
    if "position" in data:
        pipeline.position = data["position"]
    if "is_default" in data:
        if not isinstance(data["is_default"], bool):
            errors.add("is_default", "Expected true or false.")
        else:
            pipeline.is_default = data["is_default"]
    _clean_fields(pipeline, [n for n in ("name", "position") if n in data or pipeline.pk is None], errors)


def _make_default(org: Organization, pipeline: Pipeline) -> None:
    Pipeline.objects.filter(organization=org, is_default=True).exclude(pk=pipeline.pk).update(
        is_default=False, updated_at=timezone.now()
    )


@transaction.atomic
def pipeline_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    stages: Sequence[Mapping[str, Any]] | None = None,
    is_default: bool | None = None,
    position: int | None = None,
) -> Pipeline:
    """A pipeline with its ordered stages (a standard set of six when ``stages`` is None)."""
    errors = _Errors()
    # Serialise pipeline changes of an organization (one default at a time).
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    has_pipelines = Pipeline.objects.filter(organization=org).exists()
    if position is None:
        position = (Pipeline.objects.filter(organization=org).aggregate(m=Max("position"))["m"] or 0) + (
            1 if has_pipelines else 0
        )
    pipeline = Pipeline(organization=org)
    _pipeline_apply(
        pipeline,
        {
            "name": name,
            "position": position,
            "is_default": not has_pipelines if is_default is None else is_default,
        },
        errors,
    )
    if stages is None:
        stage_input: Sequence[Mapping[str, Any]] = [
            {"name": n, "probability": p, "kind": k} for n, p, k in DEFAULT_STAGES
        ]
    elif isinstance(stages, Sequence) and not isinstance(stages, str):
        stage_input = stages
    else:
        errors.add("stages", "Expected a list of stages.")
        stage_input = []
    if stages is not None and not stage_input:
        errors.add("stages", "A pipeline needs at least one stage.")
    cleaned = []
    seen: set[str] = set()
    for index, item in enumerate(stage_input):
        if not isinstance(item, Mapping):
            errors.add(f"stages.{index}", "Expected an object with name, probability and kind.")
            continue
        for unknown in sorted(set(item) - {"name", "probability", "kind"}):
            errors.add(f"stages.{index}.{unknown}", "Unknown field.")
        values = _stage_values(item, errors, prefix=f"stages.{index}.")
        if isinstance(values["name"], str) and values["name"].lower() in seen:
            errors.add(f"stages.{index}.name", "Stage names must be distinct within a pipeline.")
        seen.add(str(values["name"]).lower())
        cleaned.append(values)
    errors.raise_if_any()
    if pipeline.is_default:
        _make_default(org, pipeline)
    _save(pipeline)
    rows = [
        Stage(organization=org, pipeline=pipeline, position=index, **values)
        for index, values in enumerate(cleaned)
    ]
    Stage.objects.bulk_create(rows)
    timeline.record(
        organization=org,
        actor=actor,
        target=pipeline,
        action="created",
        changes=_created_changes(_snapshot(pipeline, PIPELINE_SCALAR, ())),
        data={"stages": [values["name"] for values in cleaned]},
    )
    _announce(org, "pipeline.created", {"id": pipeline.pk, "name": pipeline.name})
    return pipeline


@transaction.atomic
def pipeline_update(
    *, org: Organization, actor: User | None, pipeline: Pipeline | int, **data: Any
) -> Pipeline:
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    pipeline = _load_for_update(Pipeline, org, pipeline, "Pipeline")
    errors = _Errors()
    _check_unknown(data, ("name", "position", "is_default"), errors)
    before = _snapshot(pipeline, PIPELINE_SCALAR, ())
    _pipeline_apply(pipeline, data, errors)
    if data.get("is_default") is False and before["is_default"]:
        errors.add("is_default", "Make another pipeline the default instead.")
    errors.raise_if_any()
    if pipeline.is_default:
        _make_default(org, pipeline)
    changes = _diff(before, _snapshot(pipeline, PIPELINE_SCALAR, ()))
    if changes:
        _save(pipeline)
        timeline.record(organization=org, actor=actor, target=pipeline, action="updated", changes=changes)
        _announce(org, "pipeline.updated", {"id": pipeline.pk, "fields": sorted(changes)})
    return pipeline


@transaction.atomic
def pipeline_delete(*, org: Organization, actor: User | None, pipeline: Pipeline | int) -> None:
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    pipeline = _load_for_update(Pipeline, org, pipeline, "Pipeline")
    if Deal.objects.filter(organization=org, pipeline=pipeline).exists():
        raise Conflict("This pipeline still has deals; move or delete them first.", code="protected")
    timeline.record(
        organization=org, actor=actor, target=pipeline, action="deleted", data={"name": pipeline.name}
    )
    _announce(org, "pipeline.deleted", {"id": pipeline.pk})
    was_default = pipeline.is_default
    pipeline.delete()
    if was_default:
        successor = Pipeline.objects.filter(organization=org).order_by("position", "id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])


@transaction.atomic
def stage_create(
    *,
    org: Organization,
    actor: User | None,
    pipeline: Pipeline | int,
    name: str,
    probability: int | None = None,
    kind: str = StageKind.OPEN,
    position: int | None = None,
) -> Stage:
    """A new stage at ``position`` (0-based; appended when None), shifting later stages down."""
    pipeline = _load_for_update(Pipeline, org, pipeline, "Pipeline")
    errors = _Errors()
    values = _stage_values({"name": name, "probability": probability, "kind": kind}, errors)
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if position is None:
        position = len(stages)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= len(stages):
        errors.add("position", f"Expected a position from 0 to {len(stages)}.")
    if any(s.name.lower() == str(values["name"]).lower() for s in stages):
        errors.add("name", "This pipeline already has a stage with this name.")
    errors.raise_if_any()
    stage = Stage(organization=org, pipeline=pipeline, position=POSITION_OFFSET * 2, **values)
    _save(stage)
    stages.insert(position, stage)
    _renumber(pipeline, stages)
    timeline.record(
        organization=org,
        actor=actor,
        target=pipeline,
        action="stage.created",
        data={"stage": stage.pk, "name": stage.name, "position": stage.position},
    )
    _announce(org, "pipeline.updated", {"id": pipeline.pk, "fields": ["stages"]})
    return stage


def _lock_pipeline_of(org: Organization, stage: Stage | int) -> Pipeline:
    """Lock the stage's pipeline before the stage: the order stage_create uses, so no deadlock."""
    stage_id = _id_of(stage)
    pipeline_id = (
        Stage.objects.filter(organization=org, pk=stage_id).values_list("pipeline_id", flat=True).first()
        if stage_id is not None
        else None
    )
    pipeline = (
        Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()
        if pipeline_id is not None
        else None
    )
    if pipeline is None:  # never existed, or deleted with its pipeline meanwhile
        raise NotFound("Stage not found.", code="not_found")
    return pipeline


@transaction.atomic
def stage_update(*, org: Organization, actor: User | None, stage: Stage | int, **data: Any) -> Stage:
    pipeline = _lock_pipeline_of(org, stage)
    stage = _load_for_update(Stage, org, stage, "Stage")
    errors = _Errors()
    _check_unknown(data, ("name", "probability", "kind", "position"), errors)
    before = _snapshot(stage, STAGE_SCALAR, ())
    values = _stage_values(data, errors, current=stage)
    siblings = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if any(s.pk != stage.pk and s.name.lower() == str(values["name"]).lower() for s in siblings):
        errors.add("name", "This pipeline already has a stage with this name.")
    position = data.get("position", stage.position)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(siblings):
        errors.add("position", f"Expected a position from 0 to {len(siblings) - 1}.")
    if values["kind"] != stage.kind and Deal.objects.filter(organization=org, stage=stage).exists():
        errors.add("kind", "The kind of a stage that holds deals cannot change; move the deals first.")
    errors.raise_if_any()
    for name, value in values.items():
        setattr(stage, name, value)
    _save(stage)
    if position != stage.position:
        ordered = [s for s in siblings if s.pk != stage.pk]
        ordered.insert(position, stage)
        _renumber(pipeline, ordered)
    changes = _diff(before, _snapshot(stage, STAGE_SCALAR, ()))
    if changes:
        timeline.record(
            organization=org,
            actor=actor,
            target=pipeline,
            action="stage.updated",
            changes={f"stages.{stage.pk}.{k}": v for k, v in changes.items()},
        )
        _announce(org, "pipeline.updated", {"id": pipeline.pk, "fields": ["stages"]})
    return stage


@transaction.atomic
def stage_delete(
    *, org: Organization, actor: User | None, stage: Stage | int, move_deals_to: Stage | int | None = None
) -> None:
    """Delete a stage; its deals move to ``move_deals_to`` (a stage of the same pipeline) first."""
    pipeline = _lock_pipeline_of(org, stage)
    stage = _load_for_update(Stage, org, stage, "Stage")
    siblings = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if len(siblings) == 1:
        raise Conflict("A pipeline needs at least one stage.", code="protected")
    deals = list(Deal.objects.select_for_update().filter(organization=org, stage=stage))
    errors = _Errors()
    target = None
    if move_deals_to is not None:
        target = _tenant_ref(Stage, org, move_deals_to, "move_deals_to", errors)
        if target is not None and (target.pipeline_id != pipeline.pk or target.pk == stage.pk):
            errors.add("move_deals_to", "Expected another stage of the same pipeline.")
    elif deals:
        errors.add("move_deals_to", "This stage holds deals: name the stage they move to.")
    errors.raise_if_any()
    now = timezone.now()
    if target is not None:
        for deal in deals:
            before = _snapshot(deal, DEAL_SCALAR, DEAL_REFS)
            _apply_stage(deal, target, deal.lost_reason or "moved when its stage was deleted", now)
            deal.save()
            _deal_moved(org=org, actor=actor, deal=deal, old=stage, before=before)
    timeline.record(
        organization=org,
        actor=actor,
        target=pipeline,
        action="stage.deleted",
        data={"stage": stage.pk, "name": stage.name},
    )
    remaining = [s for s in siblings if s.pk != stage.pk]
    stage.delete()
    _renumber(pipeline, remaining)
    _announce(org, "pipeline.updated", {"id": pipeline.pk, "fields": ["stages"]})


@transaction.atomic
def stages_reorder(
    *, org: Organization, actor: User | None, pipeline: Pipeline | int, stage_ids: Sequence[int]
) -> list[Stage]:
    pipeline = _load_for_update(Pipeline, org, pipeline, "Pipeline")
    stages = {s.pk: s for s in Stage.objects.filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(stages):
        raise Invalid(
            "List every stage of the pipeline exactly once.",
            field_errors={"stage_ids": ["Expected each of the pipeline's stage ids exactly once."]},
        )
    old = [s.pk for s in sorted(stages.values(), key=lambda s: s.position)]
    ordered = [stages[pk] for pk in stage_ids]
    _renumber(pipeline, ordered)
    if old != list(stage_ids):
        timeline.record(
            organization=org,
            actor=actor,
            target=pipeline,
            action="stage.reordered",
            changes={"stages": (old, list(stage_ids))},
        )
        _announce(org, "pipeline.updated", {"id": pipeline.pk, "fields": ["stages"]})
    return ordered


# --- deals ----------------------------------------------------------------------------------------

DEAL_SCALAR = ("title", "value", "currency", "expected_close_date", "lost_reason", "closed_at")
DEAL_REFS = ("pipeline", "stage", "company", "owner")
DEAL_FIELDS = (
    "title",
    "value",
    "currency",
    "expected_close_date",
    "lost_reason",
    "pipeline",
    "stage",
    "company",
    "owner",
    "contacts",
    "custom_fields",
)


def _apply_stage(deal: Deal, stage: Stage, lost_reason: str, now: datetime.datetime) -> None:
    """Put ``deal`` in ``stage`` with the won/lost bookkeeping (closed time, lost reason)."""
    changed = deal.stage_id != stage.pk
    if changed:
        deal.stage_changed_at = now
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    if stage.kind == StageKind.OPEN:
        deal.closed_at = None
        deal.lost_reason = ""
    else:
        if deal.closed_at is None or changed:
            deal.closed_at = now
        deal.lost_reason = lost_reason if stage.kind == StageKind.LOST else ""


MOVE_FIELDS = ("stage", "pipeline", "closed_at", "lost_reason")


def _deal_moved(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal,
    old: Stage,
    before: Mapping[str, Any],
) -> None:
    """Record a deal's stage change, whichever way it happened (``deal_update``, ``deal_move``, a
    stage deleted with its deals moved): one ``moved`` timeline entry with the stage fields that
    changed and one ``deal.moved`` event. ``before`` is the deal's ``_snapshot`` before
    ``_apply_stage``."""
    new = deal.stage
    after = _snapshot(deal, DEAL_SCALAR, DEAL_REFS)
    changes = {key: change for key, change in _diff(before, after).items() if key in MOVE_FIELDS}
    timeline.record(
        organization=org,
        actor=actor,
        target=deal,
        action="moved",
        changes=changes,
        data={"from_stage": old.name, "to_stage": new.name, "kind": new.kind},
    )
    _announce(
        org,
        "deal.moved",
        {"id": deal.pk, "from_stage": old.pk, "to_stage": new.pk, "pipeline": new.pipeline_id},
    )


def _contacts(org: Organization, value: Any, errors: _Errors) -> list[Contact] | None:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        errors.add("contacts", "Expected a list of contact ids.")
        return None
    ids = []
    for item in value:
        pk = _id_of(item)
        if pk is None or (isinstance(item, Contact) and item.organization_id != org.pk):
            errors.add("contacts", "Expected a list of contact ids.")
            return None
        ids.append(pk)
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_DEAL_CONTACTS:
        errors.add("contacts", f"At most {MAX_DEAL_CONTACTS} contacts.")
        return None
    found = {c.pk: c for c in Contact.objects.filter(organization=org, pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        errors.add("contacts", f"No contact with id {', '.join(map(str, missing))} in this organization.")
        return None
    return [found[pk] for pk in ids]


def _deal_apply(
    deal: Deal, org: Organization, data: Mapping[str, Any], creating: bool, actor_now: datetime.datetime
) -> tuple[list[Contact] | None, Stage | None]:
    """Assign and validate ``data``; returns the new contacts and the stage moved from (if moved)."""
    errors = _Errors()
    _check_unknown(data, DEAL_FIELDS, errors)
    for name in ("title", "currency", "lost_reason"):
        if name in data:
            setattr(deal, name, _clean_text(data[name]))
    if "value" in data:
        deal.value = data["value"] if data["value"] is not None else decimal.Decimal(0)
    if "expected_close_date" in data:
        deal.expected_close_date = data["expected_close_date"]
    if isinstance(deal.currency, str):
        deal.currency = deal.currency.upper()
        if not CURRENCY_PATTERN.fullmatch(deal.currency):
            errors.add("currency", "Expected a three-letter ISO 4217 code such as EUR or USD.")
    if "company" in data:
        deal.company = _tenant_ref(Company, org, data["company"], "company", errors)
    if "owner" in data:
        deal.owner = _member(org, data["owner"], "owner", errors)
    contacts = _contacts(org, data["contacts"], errors) if "contacts" in data else None
    _clean_fields(
        deal,
        [n for n in ("title", "value", "expected_close_date", "lost_reason") if n in data or creating],
        errors,
    )
    if isinstance(deal.value, decimal.Decimal):
        if deal.value < 0:
            errors.add("value", "Expected zero or more.")
        deal.value = deal.value.quantize(decimal.Decimal("0.01"))

    old_stage: Stage | None = None if creating else deal.stage
    pipeline = (
        _tenant_ref(Pipeline, org, data.get("pipeline"), "pipeline", errors) if data.get("pipeline") else None
    )
    stage = _tenant_ref(Stage, org, data.get("stage"), "stage", errors) if data.get("stage") else None
    if "stage" in data and not data.get("stage") and not creating:
        errors.add("stage", "A deal is always in a stage.")
    if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
        errors.add("stage", "This stage belongs to another pipeline.")
    if stage is None and not errors.fields.get("stage"):
        if pipeline is None and creating and "pipeline" not in errors.fields:
            pipeline = Pipeline.objects.filter(organization=org, is_default=True).first()
            if pipeline is None:
                errors.add("pipeline", "This organization has no pipeline yet; create one first.")
        if pipeline is not None and (creating or pipeline.pk != deal.pipeline_id):
            stage = Stage.objects.filter(pipeline=pipeline).order_by("position").first()
            if stage is None:
                errors.add("pipeline", "This pipeline has no stages.")
    target = stage if stage is not None else old_stage
    lost_reason = deal.lost_reason
    if target is not None and target.kind == StageKind.LOST and not lost_reason:
        errors.add("lost_reason", "Say why the deal was lost.")
    elif (
        target is not None and target.kind != StageKind.LOST and "lost_reason" in data and data["lost_reason"]
    ):
        errors.add("lost_reason", "Only a lost deal has a lost reason.")
    _clean_custom(deal, org, CustomFieldEntity.DEAL, data, creating, errors)
    errors.raise_if_any()
    if stage is not None and (creating or stage.pk != deal.stage_id):
        _apply_stage(deal, stage, lost_reason, actor_now)
        return contacts, old_stage
    return contacts, None


def _deal_extra(contact_ids: Iterable[int]) -> dict[str, Any]:
    return {"contacts": sorted(contact_ids)}


@transaction.atomic
def deal_create(*, org: Organization, actor: User | None, **data: Any) -> Deal:
    """A deal in ``stage`` (or the first stage of ``pipeline``, or of the default pipeline)."""
    deal = Deal(organization=org)
    now = timezone.now()
    deal.stage_changed_at = now
    contacts, _ = _deal_apply(deal, org, data, creating=True, actor_now=now)
    _save(deal)
    if contacts:
        deal.contacts.set(contacts)
    snap = _snapshot(deal, DEAL_SCALAR, DEAL_REFS, _deal_extra(c.pk for c in contacts or []))
    timeline.record(
        organization=org, actor=actor, target=deal, action="created", changes=_created_changes(snap)
    )
    _announce(org, "deal.created", {"id": deal.pk, "title": deal.title, "stage": deal.stage_id})
    return deal


@transaction.atomic
def deal_update(*, org: Organization, actor: User | None, deal: Deal | int, **data: Any) -> Deal:
    """Change a deal's fields; a new ``stage`` (or ``pipeline``) is also recorded as a move."""
    deal = _load_for_update(Deal, org, deal, "Deal")
    old_contacts = sorted(deal.contacts.values_list("pk", flat=True))
    before = _snapshot(deal, DEAL_SCALAR, DEAL_REFS, _deal_extra(old_contacts))
    now = timezone.now()
    contacts, moved_from = _deal_apply(deal, org, data, creating=False, actor_now=now)
    new_contacts = old_contacts
    if contacts is not None:
        deal.contacts.set(contacts)
        new_contacts = sorted(c.pk for c in contacts)
    changes = _diff(before, _snapshot(deal, DEAL_SCALAR, DEAL_REFS, _deal_extra(new_contacts)))
    if changes:
        _save(deal)
        timeline.record(organization=org, actor=actor, target=deal, action="updated", changes=changes)
        _announce(org, "deal.updated", {"id": deal.pk, "fields": sorted(changes)})
    if moved_from is not None:
        _deal_moved(org=org, actor=actor, deal=deal, old=moved_from, before=before)
    return deal


@transaction.atomic
def deal_move(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal | int,
    stage: Stage | int,
    lost_reason: str | None = None,
) -> Deal:
    """Move a deal to ``stage`` (of any pipeline of ``org``).

    Moving to a won or lost stage closes the deal (``closed_at``); a lost stage needs a
    ``lost_reason``. Moving back to an open stage reopens it. Moving to the stage it is
    already in changes nothing and records nothing.
    """
    deal = _load_for_update(Deal, org, deal, "Deal")
    errors = _Errors()
    target = _tenant_ref(Stage, org, stage, "stage", errors)
    reason = _clean_text(lost_reason) if lost_reason is not None else deal.lost_reason
    if not isinstance(reason, str):
        errors.add("lost_reason", "Expected text.")
    elif target is not None and target.kind == StageKind.LOST and not reason:
        errors.add("lost_reason", "Say why the deal was lost.")
    elif target is not None and target.kind != StageKind.LOST and lost_reason:
        errors.add("lost_reason", "Only a lost deal has a lost reason.")
    errors.raise_if_any()
    assert target is not None
    if target.pk == deal.stage_id and (target.kind != StageKind.LOST or reason == deal.lost_reason):
        return deal
    old_stage = deal.stage
    before = _snapshot(deal, DEAL_SCALAR, DEAL_REFS)
    _apply_stage(deal, target, reason, timezone.now())
    _save(deal)
    _deal_moved(org=org, actor=actor, deal=deal, old=old_stage, before=before)
    return deal


@transaction.atomic
def deal_delete(*, org: Organization, actor: User | None, deal: Deal | int) -> None:
    deal = _load_for_update(Deal, org, deal, "Deal")
    timeline.record(
        organization=org,
        actor=actor,
        target=deal,
        action="deleted",
        data=_snapshot(deal, DEAL_SCALAR, DEAL_REFS),
    )
    _announce(org, "deal.deleted", {"id": deal.pk})
    deal.delete()


# --- activities -----------------------------------------------------------------------------------

ACTIVITY_SCALAR = ("kind", "subject", "body", "due_at", "done", "done_at")
ACTIVITY_REFS = ("assignee", "contact", "company", "deal")
ACTIVITY_FIELDS = ("kind", "subject", "body", "due_at", "done", "assignee", "contact", "company", "deal")
ACTIVITY_TARGETS: tuple[tuple[str, type[Contact] | type[Company] | type[Deal]], ...] = (
    ("contact", Contact),
    ("company", Company),
    ("deal", Deal),
)


def _activity_apply(activity: Activity, org: Organization, data: Mapping[str, Any], creating: bool) -> None:
    errors = _Errors()
    _check_unknown(data, ACTIVITY_FIELDS, errors)
    for name in ("kind", "subject", "body"):
        if name in data:
            setattr(activity, name, _clean_text(data[name]))
    if "due_at" in data:
        activity.due_at = data["due_at"]
    if "done" in data:
        if not isinstance(data["done"], bool):
            errors.add("done", "Expected true or false.")
        elif data["done"] and not activity.done:
            activity.done, activity.done_at = True, timezone.now()
        elif not data["done"]:
            activity.done, activity.done_at = False, None
    if "assignee" in data:
        activity.assignee = _member(org, data["assignee"], "assignee", errors)
    for name, model in ACTIVITY_TARGETS:
        if name in data:
            setattr(activity, name, _tenant_ref(model, org, data[name], name, errors))
    _clean_fields(
        activity, [n for n in ("kind", "subject", "body", "due_at") if n in data or creating], errors
    )
    if isinstance(activity.due_at, datetime.datetime) and timezone.is_naive(activity.due_at):
        errors.add("due_at", "Give a time zone (e.g. 2026-05-01T09:00:00Z).")
    linked = [name for name, _ in ACTIVITY_TARGETS if getattr(activity, f"{name}_id") is not None]
    if len(linked) != 1 and not any(name in errors.fields for name, _ in ACTIVITY_TARGETS):
        message = "Link the activity to exactly one contact, company or deal."
        for name in linked or [name for name, _ in ACTIVITY_TARGETS]:
            errors.add(name, message)
    errors.raise_if_any()


@transaction.atomic
def activity_create(*, org: Organization, actor: User | None, **data: Any) -> Activity:
    activity = Activity(organization=org, kind=ActivityKind.TASK)
    _activity_apply(activity, org, data, creating=True)
    _save(activity)
    snap = _snapshot(activity, ACTIVITY_SCALAR, ACTIVITY_REFS)
    timeline.record(
        organization=org, actor=actor, target=activity, action="created", changes=_created_changes(snap)
    )
    _announce(
        org, "activity.created", {"id": activity.pk, "kind": activity.kind, **_activity_target(activity)}
    )
    return activity


def _activity_target(activity: Activity) -> dict[str, Any]:
    target = activity.target
    return {"target_type": timeline.target_type(target), "target_id": target.pk}


@transaction.atomic
def activity_update(
    *, org: Organization, actor: User | None, activity: Activity | int, **data: Any
) -> Activity:
    activity = _load_for_update(Activity, org, activity, "Activity")
    before = _snapshot(activity, ACTIVITY_SCALAR, ACTIVITY_REFS)
    _activity_apply(activity, org, data, creating=False)
    changes = _diff(before, _snapshot(activity, ACTIVITY_SCALAR, ACTIVITY_REFS))
    if changes:
        _save(activity)
        timeline.record(organization=org, actor=actor, target=activity, action="updated", changes=changes)
        _announce(
            org,
            "activity.updated",
            {"id": activity.pk, "fields": sorted(changes), **_activity_target(activity)},
        )
    return activity


@transaction.atomic
def activity_delete(*, org: Organization, actor: User | None, activity: Activity | int) -> None:
    activity = _load_for_update(Activity, org, activity, "Activity")
    timeline.record(
        organization=org,
        actor=actor,
        target=activity,
        action="deleted",
        data=_snapshot(activity, ACTIVITY_SCALAR, ACTIVITY_REFS),
    )
    _announce(org, "activity.deleted", {"id": activity.pk, **_activity_target(activity)})
    activity.delete()


# --- custom field definitions ---------------------------------------------------------------------

CUSTOM_FIELD_SCALAR = ("entity", "key", "label", "field_type", "choices", "required", "position")


@transaction.atomic
def custom_field_create(
    *,
    org: Organization,
    actor: User | None,
    entity: str,
    key: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    required: bool = False,
    position: int | None = None,
) -> CustomField:
    errors = _Errors()
    errors.merge(
        cf.definition_errors(key=key, label=label, field_type=field_type, choices=choices, entity=entity)
    )
    if not isinstance(required, bool):
        errors.add("required", "Expected true or false.")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        errors.add("position", "Expected a whole number of 0 or more.")
    errors.raise_if_any()
    if position is None:
        last = CustomField.objects.filter(organization=org, entity=entity).aggregate(m=Max("position"))["m"]
        position = 0 if last is None else last + 1
    field = CustomField(
        organization=org,
        entity=entity,
        key=key,
        label=label.strip(),
        field_type=field_type,
        choices=list(choices or []),
        required=required,
        position=position,
    )
    _save(field)
    timeline.record(
        organization=org,
        actor=actor,
        target=field,
        action="created",
        changes=_created_changes(_snapshot(field, CUSTOM_FIELD_SCALAR, ())),
    )
    _announce(org, "custom_field.created", {"id": field.pk, "entity": entity, "key": key})
    return field


@transaction.atomic
def custom_field_update(
    *, org: Organization, actor: User | None, field: CustomField | int, **data: Any
) -> CustomField:
    """Change label, choices, required or position; key, entity and type are fixed once created."""
    field = _load_for_update(CustomField, org, field, "Custom field")
    errors = _Errors()
    _check_unknown(data, CUSTOM_FIELD_SCALAR, errors)
    for name in ("entity", "key", "field_type"):
        if name in data and data[name] != getattr(field, name):
            errors.add(name, "Cannot change once the field exists; create a new field instead.")
    before = _snapshot(field, CUSTOM_FIELD_SCALAR, ())
    label = data.get("label", field.label)
    choices = data.get("choices", field.choices)
    errors.merge(cf.definition_errors(key=None, label=label, field_type=field.field_type, choices=choices))
    if "required" in data and not isinstance(data["required"], bool):
        errors.add("required", "Expected true or false.")
    if "position" in data and (
        isinstance(data["position"], bool) or not isinstance(data["position"], int) or data["position"] < 0
    ):
        errors.add("position", "Expected a whole number of 0 or more.")
    errors.raise_if_any()
    field.label = label.strip()
    field.choices = list(choices or [])
    field.required = data.get("required", field.required)
    field.position = data.get("position", field.position)
    changes = _diff(before, _snapshot(field, CUSTOM_FIELD_SCALAR, ()))
    if changes:
        _save(field)
        timeline.record(organization=org, actor=actor, target=field, action="updated", changes=changes)
        _announce(org, "custom_field.updated", {"id": field.pk, "fields": sorted(changes)})
    return field


CUSTOM_FIELD_MODELS: dict[str, type[Contact] | type[Company] | type[Deal]] = {
    CustomFieldEntity.CONTACT: Contact,
    CustomFieldEntity.COMPANY: Company,
    CustomFieldEntity.DEAL: Deal,
}


class _RemoveKey(models.Func):
    """``custom_fields`` without ``key`` (``jsonb - key`` on PostgreSQL, ``json_remove`` elsewhere)."""

    output_field = models.JSONField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        column, params = compiler.compile(self.source_expressions[0])
        key, key_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            return f"({column} - ({key})::text)", [*params, *key_params]
        return f"json_remove({column}, '$.' || {key})", [*params, *key_params]


@transaction.atomic
def custom_field_delete(*, org: Organization, actor: User | None, field: CustomField | int) -> None:
    """Delete a definition and its values on every record of the organization."""
    field = _load_for_update(CustomField, org, field, "Custom field")
    model = CUSTOM_FIELD_MODELS[field.entity]
    model._default_manager.filter(organization=org, custom_fields__has_key=field.key).update(
        custom_fields=_RemoveKey(F("custom_fields"), models.Value(field.key))
    )
    timeline.record(
        organization=org,
        actor=actor,
        target=field,
        action="deleted",
        data=_snapshot(field, CUSTOM_FIELD_SCALAR, ()),
    )
    _announce(org, "custom_field.deleted", {"id": field.pk, "entity": field.entity, "key": field.key})
    field.delete()


__all__ = [
    "DEFAULT_STAGES",
    "activity_create",
    "activity_delete",
    "activity_update",
    "company_create",
    "company_delete",
    "company_update",
    "contact_create",
    "contact_delete",
    "contact_update",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "deal_create",
    "deal_delete",
    "deal_move",
    "deal_update",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_update",
    "stage_create",
    "stage_delete",
    "stage_update",
    "stages_reorder",
]
