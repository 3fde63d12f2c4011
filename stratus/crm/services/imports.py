"""Chunks of contacts or companies written by a CSV import (``stratus.imports``) in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import rules, timeline
from stratus.crm.models import Company, Contact
from stratus.crm.services import _kit as kit
from stratus.crm.services.tags import tags_for

IMPORT_EVENTS = {"contact": "contact.imported", "company": "company.imported"}


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
    kit.announce(
        org,
        IMPORT_EVENTS[str(model._meta.model_name)],
        {
            "import": import_id,
            "ids": [record.pk for record in records],
            "created": len(created),
            "updated": len(updated),
        },
    )
