"""Tag management (settings): rename and delete a tag of the organization.

A tag is created by naming it on a contact, company or deal (``services.tags_for``); these are the
organization-wide changes an admin makes from the settings pages. The name rule is the CRM's
(``rules.tag_name``, unique ignoring case); both are announced to live clients.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.crm import rules
from stratus.crm.errors import CrmCode, not_found
from stratus.crm.models import Tag
from stratus.platform.errors import Conflict, Invalid
from stratus.realtime.events import publish


def _locked(org: Organization, tag: Tag | int) -> Tag:
    pk = tag.pk if isinstance(tag, Tag) else tag
    found = Tag.objects.select_for_update().filter(organization=org, pk=pk).first()
    if found is None:
        raise not_found("Tag")
    return found


@transaction.atomic
def tag_rename(*, org: Organization, actor: User | None, tag: Tag | int, name: Any) -> Tag:
    """Give ``tag`` a new name (the tag rule; no other tag of ``org`` may have it, ignoring case)."""
    found = _locked(org, tag)
    try:
        checked = rules.tag_name(name)
    except rules.RuleError as problem:
        raise Invalid(
            problem.message, field_errors={"name": [problem.message]}, code=CrmCode.INVALID
        ) from None
    taken = Tag.objects.filter(organization=org, name__iexact=checked).exclude(pk=found.pk).exists()
    if taken:
        raise Conflict(
            "Another tag already has this name.",
            field_errors={"name": ["Another tag already has this name."]},
            code="duplicate",
        )
    if found.name != checked:
        found.name = checked
        found.save(update_fields=["name"])
        publish(organization_id=org.pk, event="tag.updated", data={"id": found.pk, "name": checked})
    return found


@transaction.atomic
def tag_delete(*, org: Organization, actor: User | None, tag: Tag | int) -> None:
    """Delete ``tag``: it leaves every contact, company and deal that had it."""
    found = _locked(org, tag)
    pk = found.pk
    found.delete()
    publish(organization_id=org.pk, event="tag.deleted", data={"id": pk})
