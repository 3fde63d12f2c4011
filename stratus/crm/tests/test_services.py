"""Services: validation with per-field errors, tenant isolation of references, timeline."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from stratus.accounts.models import Role
from stratus.crm import services
from stratus.crm.models import (
    Activity,
    Company,
    Contact,
    CustomField,
    Deal,
    Pipeline,
    Stage,
    StageKind,
    Tag,
    TimelineEntry,
)
from stratus.platform.errors import ApplicationError, status_of
from testsupport.factories import make_member, make_organization, make_user

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Company, Contact, Deal, Activity, Pipeline, Stage, Tag, TimelineEntry, CustomField)
    )


def test_contact_create_records_every_set_field_and_tags() -> None:
    org = make_organization()
    actor = make_member(org).user
    company = services.company_create(org=org, actor=actor, name="Acme", domain="HTTPS://Acme.example/about")
    assert company.domain == "acme.example"
    contact = services.contact_create(
        org=org,
        actor=actor,
        first_name=" Ann ",
        last_name="Lee",
        email="Ann@Acme.example",
        phones=["+49 30 1234"],
        company=company.pk,
        owner=actor,
        tags=["VIP", "vip", "lead"],
    )
    assert contact.first_name == "Ann"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["VIP", "lead"]
    entry = TimelineEntry.objects.get(target_type="contact", target_id=contact.pk)
    assert entry.action == "created"
    assert entry.actor == actor
    assert entry.changes is not None
    assert entry.changes["email"] == {"old": None, "new": "Ann@Acme.example"}
    assert entry.changes["company"] == {"old": None, "new": company.pk}
    assert entry.changes["tags"] == {"old": None, "new": ["VIP", "lead"]}


def test_contact_update_records_old_and_new_values_only_for_changed_fields() -> None:
    org = make_organization()
    actor = make_member(org).user
    contact = services.contact_create(
        org=org, actor=actor, first_name="Ann", email="ann@x.example", tags=["a"]
    )
    services.contact_update(
        org=org, actor=actor, contact=contact.pk, first_name="Anna", email="ann@x.example"
    )
    services.contact_update(org=org, actor=actor, contact=contact, tags=["b", "a"])
    services.contact_update(org=org, actor=actor, contact=contact, first_name="Anna")  # no change
    entries = list(TimelineEntry.objects.filter(target_id=contact.pk, action="updated").order_by("id"))
    assert [e.changes for e in entries] == [
        {"first_name": {"old": "Ann", "new": "Anna"}},
        {"tags": {"old": ["a"], "new": ["a", "b"]}},
    ]


def test_duplicate_email_is_a_field_error_ignoring_case_and_writes_nothing() -> None:
    org = make_organization()
    services.contact_create(org=org, actor=None, email="ann@example.com")
    before = counts()
    with pytest.raises(ApplicationError) as caught:
        services.contact_create(org=org, actor=None, email="ANN@example.com", tags=["new-tag"])
    assert "email" in caught.value.field_errors
    assert counts() == before
    other = make_organization()
    services.contact_create(org=other, actor=None, email="ann@example.com")


def test_every_bad_field_is_reported_at_once() -> None:
    org = make_organization()
    with pytest.raises(ApplicationError) as caught:
        services.contact_create(org=org, actor=None, first_name="x" * 101, email="not-an-email", phones="123")
    assert set(caught.value.field_errors) == {"first_name", "email", "phones"}
    assert status_of(caught.value) == 400


def test_references_from_another_organization_are_refused_with_nothing_written() -> None:
    org, other = make_organization(), make_organization()
    actor = make_member(org).user
    foreign_company = services.company_create(org=other, actor=None, name="Foreign")
    foreign_contact = services.contact_create(org=other, actor=None, email="f@example.com")
    foreign_pipeline = services.pipeline_create(org=other, actor=None, name="Theirs")
    foreign_stage = foreign_pipeline.stages.first()
    outsider = make_user()
    services.pipeline_create(org=org, actor=None, name="Ours")
    before = counts()
    with pytest.raises(ApplicationError) as caught:
        services.contact_create(
            org=org, actor=actor, email="a@example.com", company=foreign_company, owner=outsider
        )
    assert set(caught.value.field_errors) == {"company", "owner"}
    with pytest.raises(ApplicationError) as caught:
        services.deal_create(
            org=org,
            actor=actor,
            title="Deal",
            company=foreign_company.pk,
            contacts=[foreign_contact.pk],
            stage=foreign_stage,
        )
    assert set(caught.value.field_errors) == {"company", "contacts", "stage"}
    with pytest.raises(ApplicationError) as caught:
        services.activity_create(org=org, actor=actor, subject="Call", contact=foreign_contact.pk)
    assert set(caught.value.field_errors) == {"contact"}
    assert counts() == before


def test_records_of_another_organization_cannot_be_changed() -> None:
    org, other = make_organization(), make_organization()
    contact = services.contact_create(org=other, actor=None, email="f@example.com")
    before = counts()
    for call in (
        lambda: services.contact_update(org=org, actor=None, contact=contact.pk, first_name="Hacked"),
        lambda: services.contact_update(org=org, actor=None, contact=contact, first_name="Hacked"),
        lambda: services.contact_delete(org=org, actor=None, contact=contact.pk),
    ):
        with pytest.raises(ApplicationError) as caught:
            call()
        assert status_of(caught.value) == 404
    assert counts() == before
    contact.refresh_from_db()
    assert contact.first_name == ""


def test_delete_records_a_snapshot() -> None:
    org = make_organization()
    contact = services.contact_create(org=org, actor=None, first_name="Ann", email="ann@example.com")
    services.contact_delete(org=org, actor=None, contact=contact.pk)
    assert not Contact.objects.filter(pk=contact.pk).exists()
    entry = TimelineEntry.objects.get(target_id=contact.pk, action="deleted")
    assert entry.target_label == "Ann"
    assert entry.data is not None
    assert entry.data["email"] == "ann@example.com"


# --- custom fields --------------------------------------------------------------------------------


@pytest.fixture
def org_with_fields():
    org = make_organization()
    for key, field_type, extra in (
        ("plan", "choice", ["free", "pro"]),
        ("seats", "number", None),
        ("renewal", "date", None),
        ("vip", "boolean", None),
        ("notes", "text", None),
    ):
        services.custom_field_create(
            org=org,
            actor=None,
            entity="contact",
            key=key,
            label=key.title(),
            field_type=field_type,
            choices=extra,
        )
    return org


def test_custom_field_values_are_validated_and_typed(org_with_fields) -> None:
    org = org_with_fields
    contact = services.contact_create(
        org=org,
        actor=None,
        email="a@example.com",
        custom_fields={"plan": "pro", "seats": "12", "renewal": "2026-03-01", "vip": True, "notes": " hi "},
    )
    contact.refresh_from_db()
    assert contact.custom_fields == {
        "plan": "pro",
        "seats": 12,
        "renewal": "2026-03-01",
        "vip": True,
        "notes": "hi",
    }
    with pytest.raises(ApplicationError) as caught:
        services.contact_create(
            org=org,
            actor=None,
            email="b@example.com",
            custom_fields={
                "plan": "gold",
                "seats": "many",
                "renewal": "31/12/2026",
                "vip": "maybe",
                "nope": 1,
            },
        )
    assert caught.value.field_errors == {
        "custom_fields.plan": ["Expected one of: free, pro."],
        "custom_fields.seats": ["Expected a number."],
        "custom_fields.renewal": ["Expected a date (YYYY-MM-DD)."],
        "custom_fields.vip": ["Expected true or false."],
        "custom_fields.nope": ["Unknown custom field."],
    }
    assert not Contact.objects.filter(email="b@example.com").exists()


def test_custom_field_update_is_a_patch_with_old_and_new_in_the_timeline(org_with_fields) -> None:
    org = org_with_fields
    contact = services.contact_create(org=org, actor=None, email="a@example.com", custom_fields={"seats": 3})
    services.contact_update(org=org, actor=None, contact=contact, custom_fields={"seats": 5, "plan": "free"})
    services.contact_update(org=org, actor=None, contact=contact, custom_fields={"plan": None})
    contact.refresh_from_db()
    assert contact.custom_fields == {"seats": 5}
    changes = [
        e.changes for e in TimelineEntry.objects.filter(target_id=contact.pk, action="updated").order_by("id")
    ]
    assert changes == [
        {
            "custom_fields.plan": {"old": None, "new": "free"},
            "custom_fields.seats": {"old": 3, "new": 5},
        },
        {"custom_fields.plan": {"old": "free", "new": None}},
    ]


def test_required_custom_field_and_definition_rules() -> None:
    org = make_organization()
    services.custom_field_create(
        org=org, actor=None, entity="deal", key="source", label="Source", field_type="text", required=True
    )
    services.pipeline_create(org=org, actor=None, name="Sales")
    with pytest.raises(ApplicationError) as caught:
        services.deal_create(org=org, actor=None, title="No source")
    assert caught.value.field_errors == {"custom_fields.source": ["This field is required."]}
    with pytest.raises(ApplicationError) as caught:
        services.custom_field_create(
            org=org, actor=None, entity="deal", key="Bad Key", label="", field_type="choice", choices=[]
        )
    assert set(caught.value.field_errors) == {"key", "label", "choices"}
    with pytest.raises(ApplicationError) as caught:
        services.custom_field_create(
            org=org, actor=None, entity="deal", key="source", label="Again", field_type="text"
        )
    assert caught.value.field_errors == {
        "key": ["A custom field with this key already exists for this record type."]
    }


def test_deleting_a_custom_field_removes_its_values(org_with_fields) -> None:
    org = org_with_fields
    contact = services.contact_create(
        org=org, actor=None, email="a@example.com", custom_fields={"seats": 3, "plan": "pro"}
    )
    services.custom_field_delete(
        org=org, actor=None, field=CustomField.objects.get(organization=org, key="seats")
    )
    contact.refresh_from_db()
    assert contact.custom_fields == {"plan": "pro"}


# --- pipelines and deals --------------------------------------------------------------------------


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def test_first_pipeline_is_default_with_standard_stages_and_deals_start_in_its_first_stage() -> None:
    org = make_organization()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    assert pipeline.is_default
    assert [(s.name, s.position, s.kind) for s in pipeline.stages.order_by("position")][-2:] == [
        ("Won", 4, "won"),
        ("Lost", 5, "lost"),
    ]
    deal = services.deal_create(org=org, actor=None, title="Big one", value="1000.5", currency="eur")
    assert (deal.pipeline, deal.stage.name, deal.value, deal.currency) == (
        pipeline,
        "Lead",
        Decimal("1000.50"),
        "EUR",
    )
    second = services.pipeline_create(org=org, actor=None, name="Partners", is_default=True)
    pipeline.refresh_from_db()
    assert second.is_default
    assert not pipeline.is_default


def test_deal_move_handles_won_lost_and_reopen_with_timeline() -> None:
    org = make_organization()
    actor = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    deal = services.deal_create(org=org, actor=actor, title="Deal")
    with pytest.raises(ApplicationError) as caught:
        services.deal_move(org=org, actor=actor, deal=deal, stage=stage(pipeline, "Lost"))
    assert set(caught.value.field_errors) == {"lost_reason"}
    moved = services.deal_move(org=org, actor=actor, deal=deal.pk, stage=stage(pipeline, "Won").pk)
    assert moved.closed_at is not None
    assert moved.stage.kind == StageKind.WON
    moved = services.deal_move(
        org=org, actor=actor, deal=deal, stage=stage(pipeline, "Lost"), lost_reason="Too expensive"
    )
    assert moved.lost_reason == "Too expensive"
    moved = services.deal_move(org=org, actor=actor, deal=deal, stage=stage(pipeline, "Qualified"))
    assert moved.closed_at is None
    assert moved.lost_reason == ""
    services.deal_move(org=org, actor=actor, deal=deal, stage=stage(pipeline, "Qualified"))  # no-op
    moves = list(TimelineEntry.objects.filter(target_id=deal.pk, action="moved").order_by("id"))
    assert [(m.data or {}).get("to_stage") for m in moves] == ["Won", "Lost", "Qualified"]
    assert moves[1].changes is not None
    assert moves[1].changes["stage"] == {"old": stage(pipeline, "Won").pk, "new": stage(pipeline, "Lost").pk}
    assert moves[1].changes["lost_reason"] == {"old": "", "new": "Too expensive"}
    assert all(m.actor == actor for m in moves)


def test_deal_move_to_another_organizations_stage_is_refused() -> None:
    org, other = make_organization(), make_organization()
    services.pipeline_create(org=org, actor=None, name="Sales")
    theirs = services.pipeline_create(org=other, actor=None, name="Sales")
    deal = services.deal_create(org=org, actor=None, title="Deal")
    before = counts()
    with pytest.raises(ApplicationError) as caught:
        services.deal_move(org=org, actor=None, deal=deal, stage=stage(theirs, "Won"))
    assert set(caught.value.field_errors) == {"stage"}
    assert counts() == before


def test_deal_update_with_a_new_stage_is_also_a_move_and_contacts_are_tracked() -> None:
    org = make_organization()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    ann = services.contact_create(org=org, actor=None, email="ann@example.com")
    deal = services.deal_create(org=org, actor=None, title="Deal", contacts=[ann.pk])
    bob = services.contact_create(org=org, actor=None, email="bob@example.com")
    services.deal_update(
        org=org, actor=None, deal=deal, stage=stage(pipeline, "Proposal").pk, contacts=[bob, ann], value=10
    )
    update = TimelineEntry.objects.get(target_id=deal.pk, target_type="deal", action="updated")
    assert update.changes is not None
    assert update.changes["contacts"] == {"old": [ann.pk], "new": sorted([ann.pk, bob.pk])}
    assert update.changes["value"] == {"old": "0.00", "new": "10.00"}
    assert TimelineEntry.objects.filter(target_id=deal.pk, target_type="deal", action="moved").count() == 1


def test_stage_insert_reorder_and_delete_moving_deals() -> None:
    org = make_organization()
    pipeline = services.pipeline_create(
        org=org, actor=None, name="Simple", stages=[{"name": "New"}, {"name": "Done", "kind": "won"}]
    )
    services.stage_create(org=org, actor=None, pipeline=pipeline, name="Working", probability=50, position=1)
    assert list(pipeline.stages.order_by("position").values_list("name", flat=True)) == [
        "New",
        "Working",
        "Done",
    ]
    ids = list(pipeline.stages.order_by("position").values_list("id", flat=True))
    services.stages_reorder(org=org, actor=None, pipeline=pipeline, stage_ids=[ids[1], ids[0], ids[2]])
    assert list(pipeline.stages.order_by("position").values_list("name", flat=True)) == [
        "Working",
        "New",
        "Done",
    ]
    deal = services.deal_create(org=org, actor=None, title="Deal", stage=ids[1])
    with pytest.raises(ApplicationError) as caught:
        services.stage_delete(org=org, actor=None, stage=ids[1])
    assert set(caught.value.field_errors) == {"move_deals_to"}
    services.stage_delete(org=org, actor=None, stage=ids[1], move_deals_to=ids[0])
    deal.refresh_from_db()
    assert deal.stage_id == ids[0]
    assert list(pipeline.stages.order_by("position").values_list("name", "position")) == [
        ("New", 0),
        ("Done", 1),
    ]
    with pytest.raises(ApplicationError) as caught:
        services.pipeline_delete(org=org, actor=None, pipeline=pipeline)
    assert status_of(caught.value) == 409


def test_activity_needs_exactly_one_target_and_done_sets_done_at() -> None:
    org = make_organization()
    assignee = make_member(org, Role.VIEWER).user
    contact = services.contact_create(org=org, actor=None, email="a@example.com")
    company = services.company_create(org=org, actor=None, name="Acme")
    with pytest.raises(ApplicationError) as caught:
        services.activity_create(org=org, actor=None, subject="Two", contact=contact, company=company)
    assert set(caught.value.field_errors) == {"contact", "company"}
    with pytest.raises(ApplicationError) as caught:
        services.activity_create(org=org, actor=None, subject="None")
    assert set(caught.value.field_errors) == {"contact", "company", "deal"}
    with pytest.raises(ApplicationError) as caught:
        services.activity_create(
            org=org, actor=None, subject="Naive", contact=contact, due_at=datetime.datetime(2026, 1, 1, 9)
        )
    assert set(caught.value.field_errors) == {"due_at"}
    activity = services.activity_create(
        org=org,
        actor=None,
        kind="call",
        subject="Call Ann",
        contact=contact,
        assignee=assignee.pk,
        due_at="2026-05-01T09:00:00+02:00",
    )
    activity = services.activity_update(org=org, actor=None, activity=activity, done=True)
    assert activity.done_at is not None
    entry = TimelineEntry.objects.get(target_type="activity", target_id=activity.pk, action="updated")
    assert (entry.parent_type, entry.parent_id) == ("contact", contact.pk)
    assert entry.changes is not None
    assert entry.changes["done"] == {"old": False, "new": True}
