"""Typed custom fields: checking definitions and the values written against them.

Values are stored in the record's ``custom_fields`` JSON object under the definition's key:
text as a string, number as a JSON number, date as an ISO ``YYYY-MM-DD`` string (so that
string comparison is date order), choice as one of the defined strings, boolean as JSON
true/false. Errors name the field as ``custom_fields.<key>``.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from stratus.accounts.models import Organization
from stratus.crm.models import CustomField, CustomFieldType

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_MAX_LENGTH = 2000
CHOICE_MAX_LENGTH = 100
MAX_CHOICES = 200


class InvalidValue(ValueError):
    """A value that does not fit its definition; the message is shown to the user."""


def definitions_for(*, org: Organization, entity: str) -> dict[str, CustomField]:
    return {d.key: d for d in CustomField.objects.filter(organization=org, entity=entity)}


def coerce_value(field_type: str, value: Any, choices: Iterable[str] = ()) -> Any:
    """The stored form of ``value`` for a field of ``field_type``; raises InvalidValue."""
    if field_type == CustomFieldType.TEXT:
        if not isinstance(value, str):
            raise InvalidValue("Expected text.")
        text = value.strip()
        if len(text) > TEXT_MAX_LENGTH:
            raise InvalidValue(f"At most {TEXT_MAX_LENGTH} characters.")
        return text
    if field_type == CustomFieldType.NUMBER:
        return _coerce_number(value)
    if field_type == CustomFieldType.DATE:
        if isinstance(value, datetime.datetime):
            raise InvalidValue("Expected a date (YYYY-MM-DD), not a date and time.")
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise InvalidValue("Expected a date (YYYY-MM-DD).")
    if field_type == CustomFieldType.CHOICE:
        allowed = list(choices)
        if not isinstance(value, str) or value not in allowed:
            raise InvalidValue(f"Expected one of: {', '.join(allowed)}.")
        return value
    if field_type == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidValue("Expected true or false.")
    raise InvalidValue(f"Unknown field type {field_type!r}.")


def _coerce_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise InvalidValue("Expected a number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float | decimal.Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            parsed = decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            raise InvalidValue("Expected a number.") from None
        if parsed == parsed.to_integral_value() and parsed.is_finite():
            return int(parsed)
        number = float(parsed)
    else:
        raise InvalidValue("Expected a number.")
    if not math.isfinite(number):
        raise InvalidValue("Expected a finite number.")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def clean_values(
    *,
    definitions: Mapping[str, CustomField],
    values: Any,
    current: Mapping[str, Any],
    creating: bool,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Merge ``values`` (a patch: null or "" removes a value) into ``current``.

    Returns the new stored object and the errors by field (``custom_fields.<key>``).
    Required fields are enforced on create, and on update when the patch clears them.
    """
    errors: dict[str, list[str]] = {}
    result = dict(current)
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        return result, {"custom_fields": ["Expected an object mapping field keys to values."]}
    for key, raw in values.items():
        definition = definitions.get(key)
        name = f"custom_fields.{key}"
        if definition is None:
            errors[name] = ["Unknown custom field."]
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            result.pop(key, None)
            if definition.required:
                errors[name] = ["This field is required."]
            continue
        try:
            result[key] = coerce_value(definition.field_type, raw, definition.choices)
        except InvalidValue as exc:
            errors[name] = [str(exc)]
    if creating:
        for key, definition in definitions.items():
            if definition.required and key not in result and f"custom_fields.{key}" not in errors:
                errors[f"custom_fields.{key}"] = ["This field is required."]
    return result, errors


def definition_errors(
    *, key: str, label: str, field_type: str, choices: Any, entity: str | None = None
) -> dict[str, list[str]]:
    """What is wrong with a definition, by field."""
    from stratus.crm.models import CustomFieldEntity

    errors: dict[str, list[str]] = {}
    if entity is not None and entity not in CustomFieldEntity.values:
        errors["entity"] = [f"Expected one of: {', '.join(CustomFieldEntity.values)}."]
    if not KEY_PATTERN.match(key or ""):
        errors["key"] = ["Use 1 to 50 lower-case letters, digits and underscores, starting with a letter."]
    if not (label or "").strip():
        errors["label"] = ["This field may not be blank."]
    elif len(label) > 100:
        errors["label"] = ["At most 100 characters."]
    if field_type not in CustomFieldType.values:
        errors["field_type"] = [f"Expected one of: {', '.join(CustomFieldType.values)}."]
    elif field_type == CustomFieldType.CHOICE:
        if not isinstance(choices, list) or not choices:
            errors["choices"] = ["A choice field needs a list of at least one choice."]
        elif not all(isinstance(c, str) and c.strip() and len(c) <= CHOICE_MAX_LENGTH for c in choices):
            errors["choices"] = [f"Each choice is non-empty text of at most {CHOICE_MAX_LENGTH} characters."]
        elif len(set(choices)) != len(choices):
            errors["choices"] = ["Choices must be distinct."]
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = [f"At most {MAX_CHOICES} choices."]
    elif choices not in (None, []):
        errors["choices"] = ["Only choice fields have choices."]
    return errors
