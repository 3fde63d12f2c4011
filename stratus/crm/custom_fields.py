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

# A letter, then letters and digits with single underscores between them: ``__`` separates a
# key from a filter operator (``custom_fields.<key>__gt``), so a key never contains it, nor ends
# with ``_`` (``x_`` + ``__gt`` would read as ``x`` + ``___gt``).
KEY_PATTERN = re.compile(r"^[a-z](?:_?[a-z0-9])*$")
KEY_MAX_LENGTH = 50
OPERATOR_SEPARATOR = "__"
FILTER_OPERATORS = ("exact", "gt", "gte", "lt", "lte", "in", "isnull")
TEXT_MAX_LENGTH = 2000
CHOICE_MAX_LENGTH = 100
MAX_CHOICES = 200


class InvalidValue(ValueError):
    """A value that does not fit its definition; the message is shown to the user."""


def split_filter_name(name: str) -> tuple[str, str | None]:
    """``size__gt`` -> ``("size", "gt")``; ``size`` -> ``("size", "exact")``.

    The operator is what follows the last ``__`` when it is one of FILTER_OPERATORS; otherwise
    the whole name is the key (and None is returned as the operator when it has a ``__`` suffix
    that is no operator, so that the caller can name the problem).
    """
    key, separator, operator = name.rpartition(OPERATOR_SEPARATOR)
    if not separator:
        return name, "exact"
    if operator in FILTER_OPERATORS:
        return key, operator
    return key, None


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


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a custom field's key, or None. Every key allowed can be filtered on."""
    if OPERATOR_SEPARATOR in key:
        return (
            f"A key may not contain {OPERATOR_SEPARATOR!r}: it separates a key from a filter operator "
            f"(custom_fields.<key>{OPERATOR_SEPARATOR}gt)."
        )
    if not KEY_PATTERN.match(key) or len(key) > KEY_MAX_LENGTH:
        return (
            f"Use 1 to {KEY_MAX_LENGTH} lower-case letters and digits, starting with a letter, with "
            "single underscores between them."
        )
    return None


def definition_errors(
    *, key: str | None, label: str, field_type: str, choices: Any, entity: str | None = None
) -> dict[str, list[str]]:
    """What is wrong with a definition, by field (``key`` None: an existing field's key, not checked)."""
    from stratus.crm.models import CustomFieldEntity

    errors: dict[str, list[str]] = {}
    if entity is not None and entity not in CustomFieldEntity.values:
        errors["entity"] = [f"Expected one of: {', '.join(CustomFieldEntity.values)}."]
    if key is not None and (problem := key_problem(key)):
        errors["key"] = [problem]
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
