"""A list's state as its URL carries it: filters (the API's names), ordering and columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _

from stratus.api.views import RESERVED_QUERY_PARAMS
from stratus.crm.models import CustomField, CustomFieldType
from stratus.crm.selectors import DEFAULT_ORDERING
from stratus.web.lists.specs import CUSTOM_EDIT, CUSTOM_PREFIX, Column, ListSpec

# The page's own parameters, besides the API's (cursor, limit, ordering, format).
PAGE_PARAMS = frozenset({"view", "columns", "direction"})
RESERVED = RESERVED_QUERY_PARAMS | PAGE_PARAMS
MAX_COLUMNS = 30


def available_columns(spec: ListSpec, definitions: Iterable[CustomField]) -> dict[str, Column]:
    """Every column the list can show: its fields, then the custom fields in their order."""
    columns = spec.column_map()
    for definition in definitions:
        key = f"{CUSTOM_PREFIX}{definition.key}"
        columns[key] = Column(
            key,
            definition.label,
            edit=CUSTOM_EDIT.get(CustomFieldType(definition.field_type), "text"),
            field="custom_fields",
            choices=tuple((c, c) for c in definition.choices or ()),
            custom_type=definition.field_type,
        )
    return columns


def filters_of(query: QueryDict | Mapping[str, Any]) -> dict[str, Any]:
    """The list filters of a query string, as the API reads them: one value per name, or a
    list when the name repeats; an empty value filters nothing."""
    filters: dict[str, Any] = {}
    pairs: Iterable[tuple[str, list[Any]]]
    if isinstance(query, QueryDict):
        pairs = query.lists()
    else:
        pairs = ((k, v if isinstance(v, list) else [v]) for k, v in query.items())
    for name, sent in pairs:
        values = [value for value in sent if value not in ("", None)]
        if name in RESERVED or not values:
            continue
        filters[name] = values[0] if len(values) == 1 else values
    return filters


def column_keys(raw: Iterable[str]) -> list[str]:
    """``columns`` from a query string: repeated, comma-separated, or both; first use kept."""
    keys: list[str] = []
    for value in raw:
        for key in str(value).split(","):
            key = key.strip()
            if key and key not in keys:
                keys.append(key)
    return keys


def check_columns(keys: Iterable[str], available: Mapping[str, Column]) -> tuple[list[Column], list[str]]:
    """The columns named by ``keys`` and the messages for those that do not exist."""
    chosen: list[Column] = []
    errors: list[str] = []
    for key in keys:
        column = available.get(key)
        if column is None:
            errors.append(_("There is no column “%(key)s”.") % {"key": key[:60]})
        else:
            chosen.append(column)
    if len(chosen) > MAX_COLUMNS:
        errors.append(_("Choose at most %(count)d columns.") % {"count": MAX_COLUMNS})
    return chosen, errors


def check_ordering(spec: ListSpec, ordering: str | None) -> tuple[str, str | None]:
    """The ordering to use and the message if the one asked for is unknown."""
    if not ordering:
        return DEFAULT_ORDERING, None
    if ordering.removeprefix("-") in spec.orderings:
        return ordering, None
    allowed = ", ".join(sorted(spec.orderings))
    return DEFAULT_ORDERING, _("Unknown sort “%(ordering)s”; use one of: %(allowed)s.") % {
        "ordering": ordering[:60],
        "allowed": allowed,
    }


def filter_fields(
    spec: ListSpec,
    definitions: Iterable[CustomField],
    values: QueryDict | Mapping[str, Any],
    errors: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    """The filter inputs of a list: its declared filters, then each custom field's (a number or
    a date as a from/to pair), each with the value sent and its errors. The list page and the
    campaign audience builder both show these."""
    fields: list[dict[str, Any]] = [
        {"name": f.name, "label": f.label, "input": f.input, "choices": f.choices, "more": f.more}
        for f in spec.filters
    ]
    for definition in definitions:
        name = f"{CUSTOM_PREFIX}{definition.key}"
        if definition.field_type in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            names = [(f"{name}__gte", _("%(label)s from")), (f"{name}__lte", _("%(label)s to"))]
        else:
            names = [(name, "%(label)s")]
        for filter_name, label in names:
            fields.append(
                {
                    "name": filter_name,
                    "label": label % {"label": definition.label},
                    "input": {"number": "decimal", "boolean": "flag"}.get(definition.field_type)
                    or definition.field_type,
                    "choices": tuple((c, c) for c in definition.choices or ()),
                    "more": True,
                }
            )
    for field in fields:
        field["value"] = values.get(field["name"], "")
        field["errors"] = errors.get(field["name"], [])
    return fields
