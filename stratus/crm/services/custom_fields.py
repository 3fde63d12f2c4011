"""Custom field definitions (the values live on the records; see ``stratus.crm.custom_fields``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import F, Max

from stratus.accounts.models import Organization, User
from stratus.crm import custom_fields as cf
from stratus.crm.models import Company, Contact, CustomField, CustomFieldEntity, Deal
from stratus.crm.services import _kit as kit
from stratus.platform.unset import UNSET, Unset, given

CUSTOM_FIELD_SCALAR = ("entity", "key", "label", "field_type", "choices", "required", "position")
CUSTOM_FIELD_MODELS: dict[str, type[Contact] | type[Company] | type[Deal]] = {
    CustomFieldEntity.CONTACT: Contact,
    CustomFieldEntity.COMPANY: Company,
    CustomFieldEntity.DEAL: Deal,
}


def _event_data(field: CustomField, action: str) -> Mapping[str, Any]:
    return {"entity": field.entity, "key": field.key} if action in ("created", "deleted") else {}


CUSTOM_FIELDS = kit.Entity(
    model=CustomField,
    label="Custom field",
    event="custom_field",
    scalar=CUSTOM_FIELD_SCALAR,
    event_data=_event_data,
)


def _position_error(position: Any) -> str | None:
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        return "Expected a whole number of 0 or more."
    return None


@transaction.atomic
def custom_field_create(
    *,
    org: Organization,
    actor: User | None,
    entity: str,
    key: str,
    label: str,
    field_type: str,
    choices: Sequence[str] | None = None,
    required: bool = False,
    position: int | None = None,
) -> CustomField:
    """A field of ``entity`` records (appended after the others when ``position`` is None)."""

    def apply(field: CustomField, errors: kit.Errors) -> None:
        errors.merge(
            cf.definition_errors(key=key, label=label, field_type=field_type, choices=choices, entity=entity)
        )
        if not isinstance(required, bool):
            errors.add("required", "Expected true or false.")
        if position is not None and (problem := _position_error(position)):
            errors.add("position", problem)
        errors.raise_if_any()
        if position is None:
            last = CustomField.objects.filter(organization=org, entity=entity).aggregate(m=Max("position"))[
                "m"
            ]
            field.position = 0 if last is None else last + 1
        else:
            field.position = position
        field.entity, field.key, field.label, field.field_type = entity, key, label.strip(), field_type
        field.choices, field.required = list(choices or []), required

    return kit.create(CUSTOM_FIELDS, org=org, actor=actor, record=CustomField(organization=org), apply=apply)


@transaction.atomic
def custom_field_update(
    *,
    org: Organization,
    actor: User | None,
    field: CustomField | int,
    label: str | Unset = UNSET,
    choices: Sequence[str] | Unset | None = UNSET,
    required: bool | Unset = UNSET,
    position: int | Unset = UNSET,
) -> CustomField:
    """Change label, choices, required or position; key, entity and type are fixed once created."""
    data = given(label=label, choices=choices, required=required, position=position)

    def apply(field: CustomField, errors: kit.Errors) -> None:
        new_label = data.get("label", field.label)
        new_choices = data.get("choices", field.choices)
        errors.merge(
            cf.definition_errors(key=None, label=new_label, field_type=field.field_type, choices=new_choices)
        )
        if "required" in data and not isinstance(data["required"], bool):
            errors.add("required", "Expected true or false.")
        if "position" in data and (problem := _position_error(data["position"])):
            errors.add("position", problem)
        errors.raise_if_any()
        field.label = new_label.strip()
        field.choices = list(new_choices or [])
        field.required = data.get("required", field.required)
        field.position = data.get("position", field.position)

    return kit.update(CUSTOM_FIELDS, org=org, actor=actor, record=field, apply=apply).record


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

    def remove_values(field: CustomField) -> None:
        model = CUSTOM_FIELD_MODELS[field.entity]
        model._default_manager.filter(organization=org, custom_fields__has_key=field.key).update(
            custom_fields=_RemoveKey(F("custom_fields"), models.Value(field.key))
        )

    kit.delete(CUSTOM_FIELDS, org=org, actor=actor, record=field, before=remove_values)
