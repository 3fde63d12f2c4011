"""Tags: names checked by the tag rule, rows created on first use, a record's tags as a link
(contacts, companies and deals share the organization's tags)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stratus.accounts.models import Organization
from stratus.crm import rules
from stratus.crm.models import Company, Contact, Deal, Tag
from stratus.crm.services._kit import Errors, Link


def checked_names(value: Any, errors: Errors) -> list[str] | None:
    """The tag names of ``value`` by the tag rule; None (and an error on ``tags``) if broken."""
    try:
        return rules.tag_names(value)
    except rules.RuleError as problem:
        errors.add(problem.field, problem.message)
        return None


def tag_rows(org: Organization, names: Sequence[str]) -> list[Tag]:
    """The tags named ``names`` (ignoring case), created when missing (at most three queries,
    however many names)."""
    if not names:
        return []
    wanted = {rules.tag_key(name): name for name in names}
    existing = {
        rules.tag_key(t.name): t for t in Tag.objects.filter(organization=org, name__iregex=_any_of(wanted))
    }
    missing = [Tag(organization=org, name=name) for key, name in wanted.items() if key not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {
            rules.tag_key(t.name): t
            for t in Tag.objects.filter(organization=org, name__iregex=_any_of(wanted))
        }
    return [existing[key] for key in wanted if key in existing]


def _any_of(lowered: Mapping[str, str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in lowered) + ")$"


def tags_for(*, org: Organization, names: Iterable[str]) -> dict[str, Tag]:
    """``org``'s tags named ``names`` (each checked by the tag rule), created when missing,
    keyed by ``rules.tag_key``."""
    wanted: dict[str, str] = {}
    for name in names:
        checked = rules.tag_name(name)
        wanted.setdefault(rules.tag_key(checked), checked)
    return {rules.tag_key(tag.name): tag for tag in tag_rows(org, list(wanted.values()))}


def _current(record: Contact | Company | Deal) -> list[str]:
    return sorted(record.tags.values_list("name", flat=True))


def _write(
    org: Organization, record: Contact | Company | Deal, names: Sequence[str], creating: bool
) -> list[str]:
    rows = tag_rows(org, names)
    if rows or not creating:
        record.tags.set(rows)
    return sorted(t.name for t in rows)


# A record's tags, in the timeline by name.
TAGS: Link[Any] = Link(name="tags", current=_current, write=_write)
