"""Turning one CSV row into field values, with a reason when it cannot be imported."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from stratus.crm import rules
from stratus.crm.models import CustomField, CustomFieldType
from stratus.imports.mapping import CUSTOM_PREFIX

T = TypeVar("T")
validate_url = URLValidator(schemes=["http", "https"])
TAG_SPLIT = re.compile(r"[;,]")
TRUE = {"true", "yes", "y", "1", "x"}
FALSE = {"false", "no", "n", "0", ""}
LIMITS = rules.LIMITS


class RowError(Exception):
    """The row is not imported; the message says why (it goes to the error report)."""


@dataclass
class ParsedRow:
    number: int
    values: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)


def _checked(rule: Callable[[Any], T], value: Any) -> T:
    """``rule(value)``; a broken CRM rule fails the row with the message the API gives."""
    try:
        return rule(value)
    except rules.RuleError as problem:
        raise RowError(f"{problem.field}: {problem.message}") from None


def _has_bad_bytes(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _custom_value(definition: CustomField, raw: str) -> Any:
    kind = definition.field_type
    label = f"{CUSTOM_PREFIX}{definition.key}"
    if kind == CustomFieldType.NUMBER:
        try:
            number = Decimal(raw.replace(" ", ""))
        except InvalidOperation:
            raise RowError(f"{label}: {raw!r} is not a number") from None
        if not number.is_finite():
            raise RowError(f"{label}: {raw!r} is not a number")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        try:
            return datetime.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise RowError(f"{label}: {raw!r} is not a date (use YYYY-MM-DD)") from None
    if kind == CustomFieldType.BOOLEAN:
        lowered = raw.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise RowError(f"{label}: {raw!r} is not yes/no")
    if kind == CustomFieldType.CHOICE:
        choices = [str(c) for c in definition.choices or []]
        match = next((c for c in choices if c.lower() == raw.lower()), None)
        if match is None:
            raise RowError(f"{label}: {raw!r} is not one of {', '.join(choices)}")
        return match
    if len(raw) > 1000:
        raise RowError(f"{label}: longer than 1000 characters")
    return raw


def parse_row(
    number: int,
    cells: list[str],
    mapping: list[str],
    custom_fields: dict[str, CustomField],
    encoding: str,
) -> ParsedRow:
    parsed = ParsedRow(number=number)
    if len(cells) > len(mapping) and any(cell.strip() for cell in cells[len(mapping) :]):
        raise RowError(f"has {len(cells)} cells but the header names {len(mapping)} columns")
    for index, target in enumerate(mapping):
        if not target:
            continue
        raw = cells[index].strip() if index < len(cells) else ""
        if _has_bad_bytes(raw):
            raise RowError(
                f"{target}: contains bytes that are not valid {encoding}; save the file as UTF-8 "
                "or import it with its encoding"
            )
        if not raw:
            continue
        if target.startswith(CUSTOM_PREFIX):
            definition = custom_fields[target[len(CUSTOM_PREFIX) :]]
            parsed.custom[definition.key] = _custom_value(definition, raw)
            continue
        if target == "tags":
            parsed.tags = _checked(rules.tag_names, [t for t in TAG_SPLIT.split(raw) if t.strip()])
            continue
        limit = LIMITS.get(target)
        if limit is not None and len(raw) > limit:
            raise RowError(f"{target}: {rules.too_long(limit)}")
        parsed.values[target] = raw
    values = parsed.values
    if "email" in values:
        values["email"] = _checked(rules.normalise_email, values["email"])
    if "owner" in values:
        values["owner"] = values["owner"].lower()
    if "website" in values:
        if "://" not in values["website"]:
            values["website"] = "https://" + values["website"]
        try:
            validate_url(values["website"])
        except ValidationError:
            raise RowError(f"website: {values['website']!r} is not a web address") from None
    if "domain" in values:
        values["domain"] = _checked(rules.normalise_domain, values["domain"])
    if "country" in values:
        if not re.fullmatch(r"[A-Za-z]{2}", values["country"]):
            raise RowError(f"country: {values['country']!r} is not a two-letter ISO code")
        values["country"] = values["country"].upper()
    full_name = values.pop("full_name", "")
    if full_name and not values.get("first_name") and not values.get("last_name"):
        first, _, last = full_name.partition(" ")
        values["first_name"], values["last_name"] = first[:100], last.strip()[:100]
    return parsed
