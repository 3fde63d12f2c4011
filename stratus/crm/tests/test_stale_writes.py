"""The expected-version precondition of the update services (``expected_updated_at``) and its
entity tags (stratus.crm.versions): a write based on a version that is no longer the stored one is
refused and writes nothing."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from stratus.accounts.models import Organization
from stratus.crm import services, versions
from stratus.crm.errors import CrmCode
from stratus.crm.models import Activity, TimelineEntry
from stratus.platform.errors import Conflict, status_of
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

# Each record kind: (create it, the update service and its record argument, a field to change).
KINDS: dict[str, tuple[Callable[[Organization], Any], Callable[..., Any], str, str]] = {
    "contact": (
        lambda org: services.contact_create(org=org, actor=None, first_name="Ada"),
        services.contact_update,
        "contact",
        "first_name",
    ),
    "company": (
        lambda org: services.company_create(org=org, actor=None, name="Acme"),
        services.company_update,
        "company",
        "name",
    ),
    "deal": (
        lambda org: services.deal_create(
            org=org,
            actor=None,
            title="Fleet",
            pipeline=services.pipeline_create(org=org, actor=None, name="Sales"),
        ),
        services.deal_update,
        "deal",
        "title",
    ),
    "activity": (
        lambda org: services.activity_create(
            org=org,
            actor=None,
            subject="Call",
            contact=services.contact_create(org=org, actor=None, first_name="B"),
        ),
        services.activity_update,
        "activity",
        "subject",
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_update_from_a_version_that_changed_since_is_refused_and_writes_nothing(kind: str) -> None:
    create, update, argument, field = KINDS[kind]
    org = make_organization()
    actor = make_member(org).user
    record = create(org)
    opened = record.updated_at  # what both colleagues read

    first = update(
        org=org, actor=actor, **{argument: record.pk}, **{field: "First"}, expected_updated_at=opened
    )
    assert getattr(first, field) == "First"
    entries = TimelineEntry.objects.count()

    with pytest.raises(Conflict) as refused:
        update(org=org, actor=actor, **{argument: record.pk}, **{field: "Second"}, expected_updated_at=opened)
    assert refused.value.code == CrmCode.STALE
    assert status_of(refused.value) == 409
    record.refresh_from_db()
    assert getattr(record, field) == "First"
    assert record.updated_at == first.updated_at
    assert TimelineEntry.objects.count() == entries

    # From the version stored now, the same change goes through; without a version, no check.
    again = update(
        org=org,
        actor=actor,
        **{argument: record.pk},
        **{field: "Second"},
        expected_updated_at=first.updated_at,
    )
    assert getattr(again, field) == "Second"
    unchecked = update(org=org, actor=actor, **{argument: record.pk}, **{field: "Third"})
    assert getattr(unchecked, field) == "Third"


def test_a_stale_version_is_refused_before_the_input_is_checked() -> None:
    org = make_organization()
    contact = services.contact_create(org=org, actor=None, first_name="Ada")
    services.contact_update(org=org, actor=None, contact=contact.pk, first_name="Eve")
    with pytest.raises(Conflict) as refused:
        services.contact_update(
            org=org,
            actor=None,
            contact=contact.pk,
            email="not an address",
            expected_updated_at=contact.updated_at,
        )
    assert refused.value.code == CrmCode.STALE
    assert refused.value.field_errors == {}


def test_entity_tags_name_the_exact_version() -> None:
    org = make_organization()
    activity = services.activity_create(
        org=org,
        actor=None,
        subject="Call",
        contact=services.contact_create(org=org, actor=None, first_name="B"),
    )
    tag = versions.etag(activity)
    assert tag[0] == tag[-1] == '"'
    assert versions.version_of(tag) == activity.updated_at
    # A microsecond later is another version.
    activity.updated_at += datetime.timedelta(microseconds=1)
    assert versions.etag(activity) != tag
    for foreign in ("W/" + tag, "*", '"abc"', "", tag.strip('"'), '"' + "9" * 30 + '"'):
        assert versions.version_of(foreign) is None


def test_if_match_chooses_the_version_to_expect() -> None:
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    older = now - datetime.timedelta(seconds=1)
    tag_now, tag_older = (versions.etag(Activity(updated_at=moment)) for moment in (now, older))
    assert versions.expected_version("*", now) is None
    assert versions.expected_version(tag_now, now) == now
    assert versions.expected_version(f"{tag_older}, {tag_now}", now) == now
    assert versions.expected_version(tag_older, now) == older  # the service refuses it under its lock
    with pytest.raises(Conflict) as refused:
        versions.expected_version('W/"1", "x"', now)
    assert refused.value.code == CrmCode.STALE
