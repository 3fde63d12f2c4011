"""Every live event Stratus publishes, declared once: its name and the shape of its ``data``.

``publish`` refuses an event that is not declared here, or whose ``data`` does not match its
declaration (a missing or extra key, a value of another type), inside the caller's transaction,
so a wrong payload fails the write that sent it (and the tests) instead of reaching clients.
docs/live-updates.md lists these events; stratus/realtime/tests/test_payloads.py checks that
every event name the code publishes is declared here and that the services' payloads match.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, TypedDict, Union, get_args, get_origin, get_type_hints

# --- CRM records ---------------------------------------------------------------------------------


class RecordCreated(TypedDict):
    """``contact.created``, ``company.created``, ``pipeline.created``."""

    id: int
    name: str


class RecordChanged(TypedDict):
    """``*.updated``: which fields changed (the client reloads the record)."""

    id: int
    fields: list[str]


class RecordDeleted(TypedDict):
    id: int


class RecordsImported(TypedDict):
    """``contact.imported``, ``company.imported``: one event per committed chunk of an import."""

    import_: int
    ids: list[int]
    created: int
    updated: int


class DealCreated(TypedDict):
    id: int
    title: str
    stage: int


class DealMoved(TypedDict):
    """Every stage change of a deal (update, move, its stage deleted)."""

    id: int
    from_stage: int
    to_stage: int
    pipeline: int


class ActivityCreated(TypedDict):
    id: int
    kind: str
    target_type: str
    target_id: int


class ActivityChanged(TypedDict):
    id: int
    fields: list[str]
    target_type: str
    target_id: int


class ActivityDeleted(TypedDict):
    id: int
    target_type: str
    target_id: int


class CustomFieldDeclared(TypedDict):
    """``custom_field.created`` and ``custom_field.deleted``."""

    id: int
    entity: str
    key: str


class TagRenamed(TypedDict):
    id: int
    name: str


# --- Documents, notifications, background work ----------------------------------------------------


class DocumentEvent(TypedDict):
    """``document.created``, ``document.updated``, ``document.deleted``."""

    id: int
    name: str
    target_type: str
    target_id: int
    content_type: str
    size: int


class NotificationCreated(TypedDict):
    """Sent to the notification's user only."""

    id: int
    user_id: int
    kind: str
    title: str
    body: str
    target_type: str
    target_id: int | None
    reminder_id: int | None
    read_at: str | None
    created_at: str


class ImportProgress(TypedDict):
    id: int
    state: str
    rows_total: int
    rows_done: int
    created: int
    updated: int
    skipped: int
    failed: int


class BulkProgress(TypedDict):
    """A list page's bulk action run by the worker (sent to the user who started it)."""

    id: int
    kind: str
    state: str
    total: int | None
    done: int
    failed: int


class ExportProgress(TypedDict):
    """A list page's CSV export written by the worker (sent to the user who started it)."""

    id: int
    kind: str
    state: str
    total: int | None
    done: int


class CampaignProgress(TypedDict):
    id: int
    state: str
    total: int
    sent: int
    failed: int
    skipped: int
    pending: int


EVENTS: dict[str, type] = {
    "contact.created": RecordCreated,
    "contact.updated": RecordChanged,
    "contact.deleted": RecordDeleted,
    "contact.imported": RecordsImported,
    "company.created": RecordCreated,
    "company.updated": RecordChanged,
    "company.deleted": RecordDeleted,
    "company.imported": RecordsImported,
    "pipeline.created": RecordCreated,
    "pipeline.updated": RecordChanged,
    "pipeline.deleted": RecordDeleted,
    "deal.created": DealCreated,
    "deal.updated": RecordChanged,
    "deal.moved": DealMoved,
    "deal.deleted": RecordDeleted,
    "activity.created": ActivityCreated,
    "activity.updated": ActivityChanged,
    "activity.deleted": ActivityDeleted,
    "custom_field.created": CustomFieldDeclared,
    "custom_field.updated": RecordChanged,
    "custom_field.deleted": CustomFieldDeclared,
    "tag.updated": TagRenamed,
    "tag.deleted": RecordDeleted,
    "document.created": DocumentEvent,
    "document.updated": DocumentEvent,
    "document.deleted": DocumentEvent,
    "notification.created": NotificationCreated,
    "import.progress": ImportProgress,
    "campaign.progress": CampaignProgress,
    "bulk.progress": BulkProgress,
    "export.progress": ExportProgress,
}

# Payload keys that are Python keywords are declared with a trailing underscore.
_KEYWORDS = {"import_": "import"}


class PayloadError(TypeError):
    """A live event that is not declared, or whose data does not match its declaration."""


def fields_of(declaration: type) -> dict[str, Any]:
    """The declared keys (as sent) and their types."""
    return {_KEYWORDS.get(name, name): hint for name, hint in get_type_hints(declaration).items()}


def _matches(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, option) for option in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = get_args(hint)
        return isinstance(value, list) and all(_matches(element, item) for element in value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def check(event: str, data: Mapping[str, Any]) -> None:
    """Raises ``PayloadError`` unless ``event`` is declared and ``data`` matches its declaration."""
    declaration = EVENTS.get(event)
    if declaration is None:
        raise PayloadError(f"live event {event!r} is not declared in stratus/realtime/payloads.py")
    declared = fields_of(declaration)
    missing, extra = sorted(set(declared) - set(data)), sorted(set(data) - set(declared))
    if missing or extra:
        raise PayloadError(f"{event}: missing keys {missing}, undeclared keys {extra}")
    wrong = [
        f"{key}={data[key]!r} (declared {declared[key]})"
        for key in declared
        if not _matches(data[key], declared[key])
    ]
    if wrong:
        raise PayloadError(f"{event}: " + ", ".join(wrong))
