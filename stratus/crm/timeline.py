"""The timeline (audit trail) of CRM records.

``record`` is called by every service that creates, updates, deletes or moves a record,
inside its transaction, so an entry exists exactly when the change does. Other apps use it
for their own events about a record (``document.uploaded`` on a contact, ``campaign.sent``).
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models

from stratus.accounts.models import Organization, User
from stratus.crm.models import Activity, TimelineEntry


def jsonable(value: Any) -> Any:
    """``value`` as JSON, as the API shows it (ids for records, ISO dates, decimals as strings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


def target_type(target: models.Model) -> str:
    return target._meta.model_name or type(target).__name__.lower()


def record(
    *,
    organization: Organization,
    actor: User | None,
    target: models.Model,
    action: str,
    changes: Mapping[str, tuple[Any, Any] | Mapping[str, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    """Append one entry about ``target`` (a record of ``organization``).

    ``changes`` maps a field to ``(old, new)`` or ``{"old": ..., "new": ...}``; values are
    stored as JSON. ``action`` is ``created``, ``updated``, ``deleted``, ``moved`` or an
    app's own dotted name such as ``document.uploaded``.
    """
    target_org_id = getattr(target, "organization_id", None)
    if target_org_id != organization.pk:
        raise ValueError(f"{target!r} does not belong to organization {organization.pk}")
    parent: models.Model | None = target.target if isinstance(target, Activity) else None
    stored_changes: dict[str, dict[str, Any]] | None = None
    if changes is not None:
        stored_changes = {}
        for field, change in changes.items():
            old, new = (change["old"], change["new"]) if isinstance(change, Mapping) else change
            stored_changes[field] = {"old": jsonable(old), "new": jsonable(new)}
    return TimelineEntry.objects.create(
        organization=organization,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target_type(target),
        target_id=target.pk,
        target_label=str(target)[:200],
        parent_type=target_type(parent) if parent is not None else "",
        parent_id=parent.pk if parent is not None else None,
        changes=stored_changes,
        data=jsonable(dict(data)) if data is not None else None,
    )


def record_many(
    *,
    organization: Organization,
    actor: User | None,
    targets: Sequence[models.Model],
    action: str,
    data: Mapping[str, Any] | None = None,
) -> list[TimelineEntry]:
    """Append one entry per record of ``targets`` in one query (bulk writes such as imports)."""
    stored_data = jsonable(dict(data)) if data is not None else None
    entries = []
    for target in targets:
        if getattr(target, "organization_id", None) != organization.pk:
            raise ValueError(f"{target!r} does not belong to organization {organization.pk}")
        entries.append(
            TimelineEntry(
                organization=organization,
                actor=actor if actor is not None and actor.is_authenticated else None,
                action=action,
                target_type=target_type(target),
                target_id=target.pk,
                target_label=str(target)[:200],
                data=stored_data,
            )
        )
    return TimelineEntry.objects.bulk_create(entries)
