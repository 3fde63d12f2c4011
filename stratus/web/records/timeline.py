"""A record's timeline as the page shows it: keyset pages of entries with readable changes.

References in changes (owners, companies, stages, contacts, assignees) are ids; they are named
with one query per kind of reference for the whole page, whatever its length.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Organization, User
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Company, Contact, Deal, Pipeline, Stage, TimelineEntry
from stratus.web.records.fields import CUSTOM_PREFIX, RecordKind

PAGE_SIZE = 20

ACTIVITY_LABELS: dict[str, Any] = {
    "kind": _("Kind"),
    "subject": _("Subject"),
    "body": _("Text"),
    "due_at": _("Due"),
    "done": _("Done"),
    "done_at": _("Done at"),
    "assignee": _("Assignee"),
}
EXTRA_LABELS: dict[str, Any] = {
    "pipeline": _("Pipeline"),
    "closed_at": _("Closed at"),
    "stage_changed_at": _("Stage changed at"),
    "name": _("Name"),
}
# Which model an id in a change names.
REFERENCES: dict[str, type[Any]] = {
    "owner": User,
    "assignee": User,
    "company": Company,
    "stage": Stage,
    "pipeline": Pipeline,
    "contact": Contact,
    "contacts": Contact,
    "deal": Deal,
}


@dataclass
class Change:
    label: Any
    old: Any
    new: Any


@dataclass
class Entry:
    id: int
    action: str
    target_type: str
    actor: str | None
    created_at: datetime.datetime
    label: str
    kind: str = ""
    subject: str = ""
    body: str = ""
    changes: list[Change] = field(default_factory=list)
    data: Mapping[str, Any] = field(default_factory=dict)


def cursor_of(entry: TimelineEntry) -> str:
    return f"{entry.created_at.isoformat()}_{entry.pk}"


def _position(cursor: str | None) -> tuple[datetime.datetime, int] | None:
    """The time and id of the entry ``cursor`` names (the last of the page before); None for a
    bad cursor, which starts over."""
    if not cursor or "_" not in cursor:
        return None
    moment_text, _sep, pk_text = cursor.rpartition("_")
    moment = parse_datetime(moment_text.replace(" ", "+"))
    if moment is None or not pk_text.isdigit() or len(pk_text) > 18:
        return None
    return moment, int(pk_text)


def page(
    *, org: Organization, kind: RecordKind, record: Any, cursor: str | None, labels: Mapping[str, Any]
) -> tuple[list[Entry], str | None]:
    """One page of ``record``'s timeline (newest first) and the cursor of the next, if any."""
    entries = crm_selectors.timeline_for_record(org=org, record=record, before=_position(cursor))
    rows = list(entries[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    names = _names(org, rows)
    shown = [_entry(row, labels, names) for row in rows]
    return shown, (cursor_of(rows[-1]) if more else None)


def _ids(values: Iterable[Any]) -> set[int]:
    found: set[int] = set()
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, list):
            found |= _ids(value)
    return found


def _names(org: Organization, rows: list[TimelineEntry]) -> dict[type[Any], dict[int, str]]:
    wanted: dict[type[Any], set[int]] = {}
    for row in rows:
        for name, change in (row.changes or {}).items():
            model = REFERENCES.get(name)
            if model is not None and isinstance(change, Mapping):
                wanted.setdefault(model, set()).update(_ids([change.get("old"), change.get("new")]))
    names: dict[type[Any], dict[int, str]] = {}
    for model, ids in wanted.items():
        if not ids:
            continue
        if model is User:
            users = account_selectors.member_users(org=org, ids=ids)
            names[model] = {u.pk: u.full_name or u.email for u in users}
        else:
            names[model] = crm_selectors.record_names(org=org, model=model, ids=ids)
    return names


def _shown(name: str, value: Any, names: Mapping[type[Any], Mapping[int, str]]) -> Any:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")  # as the record's fields show it
    model = REFERENCES.get(name)
    if model is not None:
        known = names.get(model, {})
        if isinstance(value, list):
            return ", ".join(known.get(v, f"#{v}") for v in value if isinstance(v, int)) or None
        if isinstance(value, int) and not isinstance(value, bool):
            return known.get(value, f"#{value}")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    if value in ("", [], {}):
        return None
    return value


def _entry(
    row: TimelineEntry, labels: Mapping[str, Any], names: Mapping[type[Any], Mapping[int, str]]
) -> Entry:
    actor = row.actor
    entry = Entry(
        id=row.pk,
        action=row.action,
        target_type=row.target_type,
        actor=(actor.full_name or actor.email) if actor is not None else None,
        created_at=row.created_at,
        label=row.target_label,
        data=row.data or {},
    )
    changes = row.changes or {}
    if row.target_type == "activity":
        values = {k: (v.get("new") if row.action != "deleted" else None) for k, v in changes.items()}
        if row.action == "deleted":
            values = dict(row.data or {})
        entry.kind = str(values.get("kind") or "")
        entry.subject = str(values.get("subject") or row.target_label)
        entry.body = str(values.get("body") or "")
        if row.action == "created":
            return entry
    for name, change in sorted(changes.items()):
        if not isinstance(change, Mapping):
            continue
        if name.startswith(CUSTOM_PREFIX):
            label = labels.get(name, name.removeprefix(CUSTOM_PREFIX))
        else:
            label = labels.get(name) or ACTIVITY_LABELS.get(name) or EXTRA_LABELS.get(name) or name
        entry.changes.append(
            Change(
                label=label,
                old=_shown(name, change.get("old"), names),
                new=_shown(name, change.get("new"), names),
            )
        )
    return entry
