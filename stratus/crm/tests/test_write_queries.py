"""Every CRM write runs a fixed number of queries, whatever the number of tags, contacts, stages
or records involved.

Each case prepares a fresh organization with ``size`` related things (tags on the record, contacts
on the deal, stages in the pipeline...) and returns the write to measure; the count must be the
same for a small and a larger size, and equal to the number pinned here (a change to it is a
change to read in review).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stratus.accounts.models import Organization, User
from stratus.crm import services
from stratus.crm.models import CustomField, Pipeline
from testsupport.factories import make_member
from testsupport.factories import make_organization as make_org

pytestmark = pytest.mark.django_db

SIZES = (1, 7)
Write = Callable[[], object]


def queries(write: Write) -> int:
    with CaptureQueriesContext(connection) as context:
        write()
    return len(context.captured_queries)


def counts(prepare: Callable[[int], Write]) -> list[int]:
    return [queries(prepare(size)) for size in SIZES]


def world() -> tuple[Organization, User, Pipeline]:
    org = make_org()
    actor = make_member(org).user
    services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="text"
    )
    services.custom_field_create(
        org=org, actor=None, entity="deal", key="plan", label="Plan", field_type="text"
    )
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    return org, actor, pipeline


def names(prefix: str, size: int) -> list[str]:
    return [f"{prefix}{index}" for index in range(size)]


# --- companies and contacts: the number of tags ----------------------------------------------------


def test_company_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        return lambda: services.company_create(
            org=org, actor=actor, name="Acme", domain="acme.example", owner=actor, tags=names("t", size)
        )

    def update(size: int) -> Write:
        org, actor, _ = world()
        company = services.company_create(org=org, actor=None, name="Acme", tags=names("old", size))
        return lambda: services.company_update(
            org=org, actor=actor, company=company.pk, name="Acme Inc", tags=names("new", size)
        )

    def delete(size: int) -> Write:
        org, actor, _ = world()
        company = services.company_create(org=org, actor=None, name="Acme", tags=names("t", size))
        for index in range(size):
            services.contact_create(org=org, actor=None, email=f"c{index}@acme.example", company=company)
        return lambda: services.company_delete(org=org, actor=actor, company=company.pk)

    assert counts(create) == [13, 13]
    assert counts(update) == [14, 14]
    assert counts(delete) == [10, 10]


def test_contact_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        company = services.company_create(org=org, actor=None, name="Acme")
        return lambda: services.contact_create(
            org=org,
            actor=actor,
            first_name="Ann",
            email="ann@acme.example",
            company=company.pk,
            tags=names("t", size),
            custom_fields={"plan": "pro"},
        )

    def update(size: int) -> Write:
        org, actor, _ = world()
        contact = services.contact_create(
            org=org, actor=None, email="ann@acme.example", tags=names("old", size)
        )
        return lambda: services.contact_update(
            org=org, actor=actor, contact=contact.pk, last_name="Lee", tags=names("new", size)
        )

    def delete(size: int) -> Write:
        org, actor, _ = world()
        contact = services.contact_create(
            org=org, actor=None, email="ann@acme.example", tags=names("t", size)
        )
        return lambda: services.contact_delete(org=org, actor=actor, contact=contact.pk)

    assert counts(create) == [13, 13]
    assert counts(update) == [14, 14]
    assert counts(delete) == [10, 10]


# --- deals: the number of contacts and tags ----------------------------------------------------------------


def contacts(org: Organization, size: int, prefix: str = "c") -> list[int]:
    return [
        services.contact_create(org=org, actor=None, email=f"{prefix}{index}@example.com").pk
        for index in range(size)
    ]


def test_deal_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        people = contacts(org, size)
        return lambda: services.deal_create(
            org=org,
            actor=actor,
            title="Big",
            value=10,
            contacts=people,
            tags=names("t", size),
            custom_fields={"plan": "pro"},
        )

    def update(size: int) -> Write:
        org, actor, pipeline = world()
        deal = services.deal_create(
            org=org, actor=None, title="Big", contacts=contacts(org, size), tags=names("old", size)
        )
        others = contacts(org, size, prefix="other")
        won = pipeline.stages.get(name="Won")
        return lambda: services.deal_update(
            org=org,
            actor=actor,
            deal=deal.pk,
            title="Bigger",
            contacts=others,
            stage=won.pk,
            tags=names("new", size),
        )

    def move(size: int) -> Write:
        org, actor, pipeline = world()
        deal = services.deal_create(org=org, actor=None, title="Big", contacts=contacts(org, size))
        lost = pipeline.stages.get(name="Lost")
        return lambda: services.deal_move(
            org=org, actor=actor, deal=deal.pk, stage=lost.pk, lost_reason="price"
        )

    def delete(size: int) -> Write:
        org, actor, _ = world()
        deal = services.deal_create(
            org=org, actor=None, title="Big", contacts=contacts(org, size), tags=names("t", size)
        )
        for index in range(size):
            services.activity_create(org=org, actor=None, subject=f"Call {index}", deal=deal)
        return lambda: services.deal_delete(org=org, actor=actor, deal=deal.pk)

    assert counts(create) == [18, 18]
    assert counts(update) == [25, 25]
    assert counts(move) == [12, 12]
    assert counts(delete) == [13, 13]


# --- activities -----------------------------------------------------------------------------------


def test_activity_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        deal = services.deal_create(org=org, actor=None, title="Big", contacts=contacts(org, size))
        return lambda: services.activity_create(
            org=org, actor=actor, subject="Call", kind="call", deal=deal.pk, assignee=actor
        )

    def update(size: int) -> Write:
        org, actor, _ = world()
        deal = services.deal_create(org=org, actor=None, title="Big", contacts=contacts(org, size))
        activity = services.activity_create(org=org, actor=None, subject="Call", deal=deal)
        return lambda: services.activity_update(org=org, actor=actor, activity=activity.pk, done=True)

    def delete(size: int) -> Write:
        org, actor, _ = world()
        deal = services.deal_create(org=org, actor=None, title="Big", contacts=contacts(org, size))
        activity = services.activity_create(org=org, actor=None, subject="Call", deal=deal)
        return lambda: services.activity_delete(org=org, actor=actor, activity=activity.pk)

    assert counts(create) == [8, 8]
    assert counts(update) == [9, 9]
    assert counts(delete) == [7, 7]


# --- pipelines and stages: the number of stages ---------------------------------------------------


def stages(size: int) -> list[dict[str, str]]:
    return [*({"name": f"Step {index}"} for index in range(size)), {"name": "Won", "kind": "won"}]


def test_pipeline_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        return lambda: services.pipeline_create(org=org, actor=actor, name="Partners", stages=stages(size))

    def update(size: int) -> Write:
        org, actor, _ = world()
        partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=stages(size))
        return lambda: services.pipeline_update(
            org=org, actor=actor, pipeline=partners.pk, name="Resellers", is_default=True
        )

    def delete(size: int) -> Write:
        org, actor, _ = world()
        partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=stages(size))
        return lambda: services.pipeline_delete(org=org, actor=actor, pipeline=partners.pk)

    assert counts(create) == [10, 10]
    assert counts(update) == [9, 9]
    assert counts(delete) == [11, 11]


def test_stage_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=stages(size))
        return lambda: services.stage_create(
            org=org, actor=actor, pipeline=partners.pk, name="New", position=0
        )

    def update(size: int) -> Write:
        org, actor, _ = world()
        partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=stages(size))
        won = partners.stages.get(name="Won")
        return lambda: services.stage_update(org=org, actor=actor, stage=won.pk, name="Signed", position=0)

    def delete(size: int) -> Write:
        org, actor, _ = world()
        partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=stages(size))
        first = partners.stages.get(name="Step 0")
        return lambda: services.stage_delete(org=org, actor=actor, stage=first.pk)

    assert counts(create) == [10, 10]
    assert counts(update) == [12, 12]
    assert counts(delete) == [12, 12]


# --- custom fields: the number of records holding a value -----------------------------------------


def test_custom_field_writes() -> None:
    def create(size: int) -> Write:
        org, actor, _ = world()
        return lambda: services.custom_field_create(
            org=org,
            actor=actor,
            entity="company",
            key="size",
            label="Size",
            field_type="choice",
            choices=names("c", size),
        )

    def update(size: int) -> Write:
        org, actor, _ = world()
        field = services.custom_field_create(
            org=org, actor=None, entity="company", key="size", label="Size", field_type="text"
        )
        return lambda: services.custom_field_update(org=org, actor=actor, field=field.pk, label="Head count")

    def delete(size: int) -> Write:
        org, actor, _ = world()
        for index in range(size):
            services.contact_create(
                org=org, actor=None, email=f"c{index}@example.com", custom_fields={"plan": "x"}
            )
        field = CustomField.objects.get(organization=org, entity="contact", key="plan")
        return lambda: services.custom_field_delete(org=org, actor=actor, field=field.pk)

    assert counts(create) == [7, 7]
    assert counts(update) == [7, 7]
    assert counts(delete) == [6, 6]
