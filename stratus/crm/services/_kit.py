"""What every CRM service shares: the error collector, references inside the organization,
saving with constraints as field errors, snapshots and diffs for the timeline, and the
create / update / delete skeleton every entity's services are written with.

The skeleton (:func:`create`, :func:`update`, :func:`delete`) does, in this order: lock the row
(update, delete), apply the input and check it (the entity's ``apply``, which adds one error per
bad field), refuse with every error at once (nothing written), save, write the entity's links
(tags, a deal's contacts), diff against the snapshot taken before, record one timeline entry
and publish one live event (delivered after commit). An entity is described once by an
:class:`Entity`; services with other shapes (stage changes, a deal's move) use the same parts.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from stratus.accounts.models import Organization, User
from stratus.crm import custom_fields as cf
from stratus.crm import rules, timeline
from stratus.crm.errors import CrmCode, not_found
from stratus.crm.models import Company, Contact, Deal, TenantModel
from stratus.platform.errors import Conflict, Invalid
from stratus.realtime.events import publish

M = TypeVar("M", bound=models.Model)
R = TypeVar("R", bound=TenantModel)

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


class Errors:
    """Field errors collected while checking input, raised together as one ``Invalid``."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def merge(self, errors: Mapping[str, Sequence[str]]) -> None:
        for name, messages in errors.items():
            for message in messages:
                self.add(name, message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise Invalid("Some fields are invalid.", field_errors=self.fields, code=CrmCode.INVALID)


# --- references -----------------------------------------------------------------------------------


def id_of(value: Any) -> int | None:
    """The id ``value`` names: a model instance's pk, an int, or a text of digits."""
    if isinstance(value, models.Model):
        return int(value.pk)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def tenant_ref(model: type[M], org: Organization, value: Any, field: str, errors: Errors) -> M | None:
    """The ``model`` row of ``org`` that ``value`` (an instance or an id) names; None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, model) and getattr(value, "organization_id", None) == org.pk:
        return value
    pk = id_of(value)
    found = None
    if pk is not None and not isinstance(value, models.Model):
        found = model._default_manager.filter(organization=org, pk=pk).first()
    if found is None:
        errors.add(field, f"No {model._meta.verbose_name} with this id in this organization.")
    return found


def member(org: Organization, value: Any, field: str, errors: Errors) -> User | None:
    """A user who is a member of ``org``; None if empty."""
    if value is None or value == "":
        return None
    pk = id_of(value)
    found = None
    if pk is not None:
        found = User.objects.filter(pk=pk, memberships__organization=org).first()
    if found is None:
        errors.add(field, "No member of this organization with this id.")
    return found


def load_for_update(model: type[M], org: Organization, record: M | int, label: str) -> M:
    """Re-read ``record`` inside ``org`` under a row lock; an unknown id is ``not_found(label)``."""
    pk = id_of(record)
    found = (
        model._default_manager.select_for_update().filter(organization=org, pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise not_found(label)
    return found


# --- checking and saving --------------------------------------------------------------------------


def clean_text(value: Any) -> Any:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def clean_fields(instance: models.Model, names: Iterable[str], errors: Errors) -> None:
    """Model field validation (lengths, formats, choices, blank) for ``names``; errors by field."""
    wanted = set(names)
    exclude = [f.name for f in instance._meta.concrete_fields if f.name not in wanted]
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as exc:
        errors.merge(exc.message_dict)


def clean_custom(
    instance: Contact | Company | Deal,
    org: Organization,
    entity: str,
    data: Mapping[str, Any],
    creating: bool,
    errors: Errors,
) -> None:
    """Merge ``data["custom_fields"]`` into the record's values, checked against the definitions."""
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


def save(instance: models.Model, **kwargs: Any) -> None:
    """Save in a savepoint, turning a violated constraint into a field error."""
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:
        raise_constraint(exc)
        raise


def raise_constraint(exc: IntegrityError) -> None:
    text = str(exc)
    for name, (field_name, message) in CONSTRAINT_ERRORS.items():
        if name in text:
            raise Invalid(message, field_errors={field_name: [message]}, code=CrmCode.CONFLICT) from exc


# --- timeline and live events ---------------------------------------------------------------------


def snapshot(
    instance: models.Model,
    scalar: Iterable[str],
    refs: Iterable[str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values the timeline keeps of ``instance``: fields, references as ids, custom values."""
    snap = {name: timeline.jsonable(getattr(instance, name)) for name in scalar}
    for name in refs:
        snap[name] = getattr(instance, f"{name}_id")
    for key, value in (getattr(instance, "custom_fields", None) or {}).items():
        snap[f"custom_fields.{key}"] = value
    if extra:
        snap.update({k: timeline.jsonable(v) for k, v in extra.items()})
    return snap


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def created_changes(snap: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (None, value) for key, value in snap.items() if value not in (None, "", [], {})}


def announce(org: Organization, event: str, data: Mapping[str, Any]) -> None:
    """Publish a live event to ``org``; delivered when the transaction commits."""
    publish(organization_id=org.pk, event=event, data=data)


# --- the create / update / delete skeleton --------------------------------------------------------


@dataclass(frozen=True)
class Link(Generic[R]):
    """A many-to-many the timeline keeps beside the fields (a record's tags, a deal's contacts).

    ``current`` reads the stored value as the timeline shows it; ``write`` stores the value an
    entity's ``apply`` returned (checked already) and returns it as the timeline shows it.
    """

    name: str
    current: Callable[[R], list[Any]]
    write: Callable[[Organization, R, Any, bool], list[Any]]


def _no_event_data(record: Any, action: str) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Entity(Generic[R]):
    """How the records of one model are locked, pictured in the timeline and announced.

    Events are ``<event>.created`` ``{"id", ...}``, ``<event>.updated`` ``{"id", "fields",
    ...}`` and ``<event>.deleted`` ``{"id", ...}``, where ``...`` is ``event_data(record,
    action)``. A deletion's timeline entry keeps ``deleted_data(record)`` (default: the snapshot).
    """

    model: type[R]
    label: str
    event: str
    scalar: tuple[str, ...]
    refs: tuple[str, ...] = ()
    links: tuple[Link[R], ...] = ()
    event_data: Callable[[R, str], Mapping[str, Any]] = field(default=_no_event_data)
    deleted_data: Callable[[R], Mapping[str, Any]] | None = None

    def snapshot(self, record: R, links: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return snapshot(record, self.scalar, self.refs, links)

    def announce(self, org: Organization, record: R, action: str, **data: Any) -> None:
        announce(org, f"{self.event}.{action}", {"id": record.pk, **data, **self.event_data(record, action)})


# ``apply(record, errors)`` assigns the input to the record and adds an error per bad field; it
# returns the values for the entity's links by link name (a link missing or None: unchanged).
# It may call ``errors.raise_if_any()`` itself when it has work to do once the input is known
# to be valid.
Apply = Callable[[R, Errors], Mapping[str, Any] | None]


def create(
    entity: Entity[R],
    *,
    org: Organization,
    actor: User | None,
    record: R,
    apply: Apply[R],
) -> R:
    """Check and insert the new ``record``, write its links, record ``created``, announce it."""
    errors = Errors()
    values = apply(record, errors) or {}
    errors.raise_if_any()
    save(record)
    links: dict[str, Any] = {}
    for link in entity.links:
        value = values.get(link.name)
        links[link.name] = link.write(org, record, value, True) if value is not None else []
    record_created(entity, org=org, actor=actor, record=record, links=links)
    return record


def record_created(
    entity: Entity[R],
    *,
    org: Organization,
    actor: User | None,
    record: R,
    links: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """The ``created`` timeline entry (every value set) and event of a saved ``record``."""
    changes = created_changes(entity.snapshot(record, links))
    timeline.record(
        organization=org, actor=actor, target=record, action="created", changes=changes, data=data
    )
    entity.announce(org, record, "created")


@dataclass(frozen=True)
class Updated(Generic[R]):
    """An update's outcome: the saved record, its snapshot before, and what changed."""

    record: R
    before: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]


STALE_MESSAGE = (
    "Someone else changed this record since you read it. Its values now are the stored ones; "
    "send your change again to replace them."
)


def check_unchanged(record: Any, expected_updated_at: datetime.datetime | None) -> None:
    """Refuse (``Conflict``, ``CrmCode.STALE``) when the locked ``record`` is no longer the version
    the caller read: its ``updated_at`` moved on. ``None``: the caller asks for no check."""
    if expected_updated_at is not None and record.updated_at != expected_updated_at:
        raise Conflict(STALE_MESSAGE, code=CrmCode.STALE)


def update(
    entity: Entity[R],
    *,
    org: Organization,
    actor: User | None,
    record: R | int,
    apply: Apply[R],
    expected_updated_at: datetime.datetime | None = None,
) -> Updated[R]:
    """Lock ``record``, refuse it when it changed since ``expected_updated_at`` (the version the
    caller read, when given), apply and check the input, and when something changed: save,
    record ``updated`` with each changed field's old and new value, announce the fields."""
    found = load_for_update(entity.model, org, record, entity.label)
    check_unchanged(found, expected_updated_at)
    links = {link.name: link.current(found) for link in entity.links}
    before = entity.snapshot(found, links)
    errors = Errors()
    values = apply(found, errors) or {}
    errors.raise_if_any()
    for link in entity.links:
        if values.get(link.name) is not None:
            links[link.name] = link.write(org, found, values[link.name], False)
    changes = diff(before, entity.snapshot(found, links))
    if changes:
        save(found)
        timeline.record(organization=org, actor=actor, target=found, action="updated", changes=changes)
        entity.announce(org, found, "updated", fields=sorted(changes))
    return Updated(record=found, before=before, changes=changes)


def delete(
    entity: Entity[R],
    *,
    org: Organization,
    actor: User | None,
    record: R | int,
    before: Callable[[R], None] | None = None,
) -> R:
    """Lock ``record``, run ``before`` on it (a check that may refuse, or a write that goes with
    the deletion), record ``deleted`` with what the record was, announce it and delete it."""
    found = load_for_update(entity.model, org, record, entity.label)
    if before is not None:
        before(found)
    kept = entity.deleted_data(found) if entity.deleted_data is not None else entity.snapshot(found)
    timeline.record(organization=org, actor=actor, target=found, action="deleted", data=kept)
    entity.announce(org, found, "deleted")
    found.delete()
    return found
