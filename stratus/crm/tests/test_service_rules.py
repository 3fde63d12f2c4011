"""The rules of the services that change pipelines, stages, custom fields, companies, and that
delete deals and activities: each refusal names its kind, code and field and writes nothing;
each success writes the row and its timeline entry and announces the change after commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from stratus.crm import services
from stratus.crm.errors import CrmCode
from stratus.crm.models import (
    Activity,
    Company,
    Contact,
    CustomField,
    Deal,
    Pipeline,
    Stage,
    Tag,
    TimelineEntry,
)
from stratus.platform.errors import ApplicationError, Conflict, Invalid, NotFound, status_of
from stratus.realtime import events
from testsupport.factories import make_member, make_user
from testsupport.factories import make_organization as make_org

pytestmark = pytest.mark.django_db

Sent = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def sent(monkeypatch) -> Sent:
    """The live events delivered (after commit), as (event, data)."""
    delivered: Sent = []
    monkeypatch.setattr(
        events,
        "deliver_now",
        lambda *, organization_id, event_json, data_json, user_id=None: delivered.append(
            (json.loads(event_json), json.loads(data_json))
        ),
    )
    return delivered


@pytest.fixture
def committing(django_capture_on_commit_callbacks, sent: Sent) -> Callable[[], Any]:
    """``with committing():`` runs a write, checks nothing was announced before the commit,
    then commits (runs the on-commit callbacks)."""

    @contextmanager
    def run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            yield
        assert sent == [], "announced before the commit"
        for callback in callbacks:
            callback()

    return run


def state() -> tuple[Any, ...]:
    """Everything a refused write must leave as it was."""
    rows = tuple(
        sorted(model.objects.values_list("pk", "updated_at"))
        for model in (Company, Contact, Deal, Activity, Pipeline, Stage, CustomField)
    )
    return (
        *rows,
        sorted(Stage.objects.values_list("pk", "name", "position", "probability", "kind")),
        sorted(Pipeline.objects.values_list("pk", "name", "is_default")),
        sorted(CustomField.objects.values_list("pk", "label", "choices", "required", "position")),
        Tag.objects.count(),
        TimelineEntry.objects.count(),
    )


@pytest.fixture
def refusal(django_capture_on_commit_callbacks, sent: Sent) -> Callable[..., Any]:
    """``with refusal(Invalid, CrmCode.INVALID, {"name"}) as caught:`` expects the write inside
    to raise that kind of error with that code and those fields, and to leave everything (rows,
    tags, timeline, live events) as it was."""

    @contextmanager
    def expect(
        kind: type[ApplicationError], code: CrmCode, fields: set[str]
    ) -> Iterator[pytest.ExceptionInfo[ApplicationError]]:
        before = state()
        with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(kind) as caught:
            yield caught
        assert callbacks == []
        assert caught.value.code == code
        assert set(caught.value.field_errors) == fields
        assert state() == before
        assert sent == []

    return expect


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


# --- stage_update ---------------------------------------------------------------------------------


def test_stage_update_refusals_write_nothing(refusal) -> None:
    org = make_org()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    lead, won = stage(pipeline, "Lead"), stage(pipeline, "Won")
    services.deal_create(org=org, actor=None, title="Held", stage=lead)
    with refusal(Invalid, CrmCode.INVALID, {"name"}):
        services.stage_update(org=org, actor=None, stage=lead, name="qualified")
    with refusal(Invalid, CrmCode.INVALID, {"position"}):
        services.stage_update(org=org, actor=None, stage=lead, position=6)
    with refusal(Invalid, CrmCode.INVALID, {"kind"}) as caught:
        services.stage_update(org=org, actor=None, stage=lead, kind="won")
    error = caught.value
    assert error.field_errors["kind"] == [
        "The kind of a stage that holds deals cannot change; move the deals first."
    ]
    with refusal(Invalid, CrmCode.INVALID, {"probability"}):
        services.stage_update(org=org, actor=None, stage=won, probability=50)
    other = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()) as caught:
        services.stage_update(org=other, actor=None, stage=lead.pk, name="Mine")
    error = caught.value
    assert (error.message, status_of(error)) == ("Stage not found.", 404)


def test_stage_update_renames_moves_and_records_it_on_the_pipeline(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    negotiation = stage(pipeline, "Negotiation")
    with committing():
        services.stage_update(org=org, actor=actor, stage=negotiation.pk, name="Talks", position=1)
    assert list(pipeline.stages.order_by("position").values_list("name", flat=True)) == [
        "Lead",
        "Talks",
        "Qualified",
        "Proposal",
        "Won",
        "Lost",
    ]
    entry = TimelineEntry.objects.get(target_type="pipeline", target_id=pipeline.pk, action="stage.updated")
    assert entry.actor == actor
    assert entry.changes == {
        f"stages.{negotiation.pk}.name": {"old": "Negotiation", "new": "Talks"},
        f"stages.{negotiation.pk}.position": {"old": 3, "new": 1},
    }
    assert sent == [("pipeline.updated", {"id": pipeline.pk, "fields": ["stages"]})]


def test_stage_update_won_stage_gets_probability_100(sent: Sent) -> None:
    org = make_org()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    updated = services.stage_update(org=org, actor=None, stage=stage(pipeline, "Proposal"), kind="won")
    updated.refresh_from_db()
    assert (updated.kind, updated.probability) == ("won", 100)


# --- pipeline_update ------------------------------------------------------------------------------


def test_pipeline_update_refusals_write_nothing(refusal) -> None:
    org = make_org()
    sales = services.pipeline_create(org=org, actor=None, name="Sales")
    partners = services.pipeline_create(org=org, actor=None, name="Partners")
    with refusal(Invalid, CrmCode.INVALID, {"is_default"}) as caught:
        services.pipeline_update(org=org, actor=None, pipeline=sales, is_default=False)
    error = caught.value
    assert error.field_errors["is_default"] == ["Make another pipeline the default instead."]
    with refusal(Invalid, CrmCode.CONFLICT, {"name"}) as caught:
        services.pipeline_update(org=org, actor=None, pipeline=partners.pk, name="SALES")
    error = caught.value
    assert error.field_errors["name"] == ["A pipeline with this name already exists."]
    with refusal(Invalid, CrmCode.INVALID, {"name"}):
        services.pipeline_update(org=org, actor=None, pipeline=partners, name=" ")
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()):
        services.pipeline_update(org=stranger, actor=None, pipeline=sales.pk, name="Theirs")


def test_pipeline_update_moves_the_default_and_records_the_change(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    sales = services.pipeline_create(org=org, actor=None, name="Sales")
    partners = services.pipeline_create(org=org, actor=None, name="Partners")
    with committing():
        services.pipeline_update(
            org=org, actor=actor, pipeline=partners.pk, is_default=True, name="Resellers"
        )
    sales.refresh_from_db()
    partners.refresh_from_db()
    assert (sales.is_default, partners.is_default, partners.name) == (False, True, "Resellers")
    entry = TimelineEntry.objects.get(target_type="pipeline", target_id=partners.pk, action="updated")
    assert entry.actor == actor
    assert entry.changes == {
        "is_default": {"old": False, "new": True},
        "name": {"old": "Partners", "new": "Resellers"},
    }
    assert sent == [("pipeline.updated", {"id": partners.pk, "fields": ["is_default", "name"]})]


def test_pipeline_update_without_a_change_records_nothing(sent: Sent, committing) -> None:
    org = make_org()
    sales = services.pipeline_create(org=org, actor=None, name="Sales")
    entries = TimelineEntry.objects.count()
    with committing():
        services.pipeline_update(org=org, actor=None, pipeline=sales, name="Sales", is_default=True)
    assert TimelineEntry.objects.count() == entries
    assert sent == []


# --- custom_field_update --------------------------------------------------------------------------


def test_custom_field_update_refusals_write_nothing(refusal) -> None:
    org = make_org()
    plan = services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="choice", choices=["a"]
    )
    with refusal(Invalid, CrmCode.INVALID, {"label"}):
        services.custom_field_update(org=org, actor=None, field=plan, label="  ")
    with refusal(Invalid, CrmCode.INVALID, {"choices"}):
        services.custom_field_update(org=org, actor=None, field=plan, choices=[])
    with refusal(Invalid, CrmCode.INVALID, {"position"}) as caught:
        services.custom_field_update(org=org, actor=None, field=plan, position=-1)
    error = caught.value
    assert error.field_errors["position"] == ["Expected a whole number of 0 or more."]
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()):
        services.custom_field_update(org=stranger, actor=None, field=plan.pk, label="Theirs")


def test_custom_field_update_changes_the_definition_and_records_it(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    plan = services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="choice", choices=["a"]
    )
    with committing():
        services.custom_field_update(
            org=org, actor=actor, field=plan.pk, label=" Tier ", choices=["a", "b"], required=True
        )
    plan.refresh_from_db()
    assert (plan.key, plan.label, plan.choices, plan.required) == ("plan", "Tier", ["a", "b"], True)
    entry = TimelineEntry.objects.get(target_type="customfield", target_id=plan.pk, action="updated")
    assert entry.actor == actor
    assert entry.changes == {
        "choices": {"old": ["a"], "new": ["a", "b"]},
        "label": {"old": "Plan", "new": "Tier"},
        "required": {"old": False, "new": True},
    }
    assert sent == [("custom_field.updated", {"id": plan.pk, "fields": ["choices", "label", "required"]})]


# --- company_update / company_delete --------------------------------------------------------------


def test_company_update_refusals_write_nothing(refusal) -> None:
    org = make_org()
    company = services.company_create(org=org, actor=None, name="Acme", tags=["old"])
    outsider = make_user()
    with refusal(Invalid, CrmCode.INVALID, {"country", "domain", "owner", "name"}) as caught:
        services.company_update(
            org=org,
            actor=None,
            company=company,
            name="",
            country="Germany",
            domain="not a domain",
            owner=outsider,
            tags=["new"],
        )
    error = caught.value
    assert "Expected an ISO 3166-1 alpha-2 code such as DE or US." in error.field_errors["country"]
    assert error.field_errors["owner"] == ["No member of this organization with this id."]
    assert list(company.tags.values_list("name", flat=True)) == ["old"]
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()):
        services.company_update(org=stranger, actor=None, company=company.pk, name="Theirs")


def test_company_update_normalises_replaces_tags_and_records_it(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    company = services.company_create(org=org, actor=None, name="Acme", tags=["old", "keep"])
    with committing():
        services.company_update(
            org=org,
            actor=actor,
            company=company.pk,
            domain="https://www.Acme.example/about",
            country="de",
            owner=actor.pk,
            tags=["keep", "New"],
        )
    company.refresh_from_db()
    assert (company.domain, company.country, company.owner_id) == ("acme.example", "DE", actor.pk)
    assert sorted(company.tags.values_list("name", flat=True)) == ["New", "keep"]
    entry = TimelineEntry.objects.get(target_type="company", target_id=company.pk, action="updated")
    assert entry.actor == actor
    assert entry.changes == {
        "country": {"old": "", "new": "DE"},
        "domain": {"old": "", "new": "acme.example"},
        "owner": {"old": None, "new": actor.pk},
        "tags": {"old": ["keep", "old"], "new": ["New", "keep"]},
    }
    assert sent == [("company.updated", {"id": company.pk, "fields": ["country", "domain", "owner", "tags"]})]


def test_company_delete_of_another_organization_is_not_found(refusal) -> None:
    company = services.company_create(org=make_org(), actor=None, name="Theirs")
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()) as caught:
        services.company_delete(org=stranger, actor=None, company=company.pk)
    error = caught.value
    assert error.message == "Company not found."


def test_company_delete_keeps_its_contacts_and_records_a_snapshot(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    company = services.company_create(org=org, actor=None, name="Acme", domain="acme.example")
    contact = services.contact_create(org=org, actor=None, email="ann@acme.example", company=company)
    with committing():
        services.company_delete(org=org, actor=actor, company=company)
    assert not Company.objects.filter(pk=company.pk).exists()
    contact.refresh_from_db()
    assert contact.company_id is None
    entry = TimelineEntry.objects.get(target_type="company", target_id=company.pk, action="deleted")
    assert entry.actor == actor
    assert entry.data is not None
    assert (entry.data["name"], entry.data["domain"]) == ("Acme", "acme.example")
    assert sent == [("company.deleted", {"id": company.pk})]


# --- deal_delete ----------------------------------------------------------------------------------


def test_deal_delete_of_another_organization_is_not_found(refusal) -> None:
    other = make_org()
    services.pipeline_create(org=other, actor=None, name="Sales")
    deal = services.deal_create(org=other, actor=None, title="Theirs")
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()) as caught:
        services.deal_delete(org=stranger, actor=None, deal=deal.pk)
    error = caught.value
    assert error.message == "Deal not found."


def test_deal_delete_removes_the_deal_and_its_activities_and_records_a_snapshot(
    sent: Sent, committing
) -> None:
    org = make_org()
    actor = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    contact = services.contact_create(org=org, actor=None, email="ann@example.com")
    deal = services.deal_create(org=org, actor=None, title="Big", value=100, contacts=[contact])
    services.activity_create(org=org, actor=None, subject="Call", deal=deal)
    with committing():
        services.deal_delete(org=org, actor=actor, deal=deal.pk)
    assert not Deal.objects.filter(pk=deal.pk).exists()
    assert not Activity.objects.filter(deal_id=deal.pk).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()
    entry = TimelineEntry.objects.get(target_type="deal", target_id=deal.pk, action="deleted")
    assert entry.actor == actor
    assert entry.data is not None
    assert (entry.data["title"], entry.data["value"], entry.data["stage"]) == (
        "Big",
        "100.00",
        stage(pipeline, "Lead").pk,
    )
    assert sent == [("deal.deleted", {"id": deal.pk})]


# --- activity_delete ------------------------------------------------------------------------------


def test_activity_delete_of_another_organization_is_not_found(refusal) -> None:
    other = make_org()
    contact = services.contact_create(org=other, actor=None, email="ann@example.com")
    activity = services.activity_create(org=other, actor=None, subject="Call", contact=contact)
    stranger = make_org()
    with refusal(NotFound, CrmCode.NOT_FOUND, set()) as caught:
        services.activity_delete(org=stranger, actor=None, activity=activity.pk)
    error = caught.value
    assert error.message == "Activity not found."


def test_activity_delete_records_it_under_its_record(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    contact = services.contact_create(org=org, actor=None, email="ann@example.com")
    activity = services.activity_create(org=org, actor=None, subject="Call Ann", contact=contact)
    with committing():
        services.activity_delete(org=org, actor=actor, activity=activity)
    assert not Activity.objects.filter(pk=activity.pk).exists()
    entry = TimelineEntry.objects.get(target_type="activity", target_id=activity.pk, action="deleted")
    assert entry.actor == actor
    assert (entry.parent_type, entry.parent_id) == ("contact", contact.pk)
    assert entry.data is not None
    assert entry.data["subject"] == "Call Ann"
    assert sent == [
        ("activity.deleted", {"id": activity.pk, "target_type": "contact", "target_id": contact.pk})
    ]


# --- codes ----------------------------------------------------------------------------------------


def test_a_pipeline_with_deals_is_protected(refusal) -> None:
    org = make_org()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    services.deal_create(org=org, actor=None, title="Held")
    with refusal(Conflict, CrmCode.PROTECTED, set()) as caught:
        services.pipeline_delete(org=org, actor=None, pipeline=pipeline)
    error = caught.value
    assert status_of(error) == 409


# --- deal tags ------------------------------------------------------------------------------------


def test_deal_tags_are_the_organizations_tags_recorded_and_announced(sent: Sent, committing) -> None:
    org = make_org()
    actor = make_member(org).user
    services.pipeline_create(org=org, actor=None, name="Sales")
    company = services.company_create(org=org, actor=None, name="Acme", tags=["Enterprise"])
    deal = services.deal_create(org=org, actor=actor, title="Big", tags=["enterprise", "hot", "HOT"])
    # One tag per name in the organization, whichever record named it first.
    assert sorted(deal.tags.values_list("name", flat=True)) == ["Enterprise", "hot"]
    assert deal.tags.get(name="Enterprise") == company.tags.get()
    created = TimelineEntry.objects.get(target_type="deal", target_id=deal.pk, action="created")
    assert created.changes is not None
    assert created.changes["tags"] == {"old": None, "new": ["Enterprise", "hot"]}

    with committing():
        services.deal_update(org=org, actor=actor, deal=deal.pk, tags=["hot", "renewal"])
    assert sorted(deal.tags.values_list("name", flat=True)) == ["hot", "renewal"]
    entry = TimelineEntry.objects.get(target_type="deal", target_id=deal.pk, action="updated")
    assert entry.actor == actor
    assert entry.changes == {"tags": {"old": ["Enterprise", "hot"], "new": ["hot", "renewal"]}}
    assert sent == [("deal.updated", {"id": deal.pk, "fields": ["tags"]})]


def test_deal_tags_follow_the_tag_rule_and_never_take_another_organizations_tag(refusal) -> None:
    org = make_org()
    services.pipeline_create(org=org, actor=None, name="Sales")
    deal = services.deal_create(org=org, actor=None, title="Big", tags=["hot"])
    theirs = Tag.objects.create(organization=make_org(), name="secret")
    for tags in ("hot", [" "], ["x" * 61], [f"t{i}" for i in range(51)], [theirs]):
        with refusal(Invalid, CrmCode.INVALID, {"tags"}):
            services.deal_update(org=org, actor=None, deal=deal.pk, tags=tags)  # type: ignore[arg-type]
    assert list(deal.tags.values_list("name", flat=True)) == ["hot"]
    assert not theirs.deals.exists()
    # Naming another organization's tag gives this organization a tag of its own.
    services.deal_update(org=org, actor=None, deal=deal.pk, tags=["secret"])
    mine = deal.tags.get()
    assert (mine.organization_id, mine.name) == (org.pk, "secret")
    assert mine.pk != theirs.pk
    assert not theirs.deals.exists()


def test_deleting_a_tag_detaches_it_from_deals_contacts_and_companies(sent: Sent, committing) -> None:
    from stratus.crm import tags as crm_tags

    org = make_org()
    services.pipeline_create(org=org, actor=None, name="Sales")
    deal = services.deal_create(org=org, actor=None, title="Big", tags=["gone", "kept"])
    contact = services.contact_create(org=org, actor=None, first_name="Ann", tags=["gone"])
    company = services.company_create(org=org, actor=None, name="Acme", tags=["gone"])
    tag = Tag.objects.get(organization=org, name="gone")
    with committing():
        crm_tags.tag_delete(org=org, actor=None, tag=tag.pk)
    assert list(deal.tags.values_list("name", flat=True)) == ["kept"]
    assert not contact.tags.exists()
    assert not company.tags.exists()
    assert Deal.objects.filter(pk=deal.pk).exists()
    assert sent == [("tag.deleted", {"id": tag.pk})]


def test_a_tag_name_is_measured_as_given_then_trimmed() -> None:
    """The API's schema states the length of each tag as sent: a name that fits only once its
    spaces are trimmed is refused like any other too-long name; one that fits is stored trimmed."""
    from stratus.crm import rules

    longest = "t" * rules.TAG_NAME_MAX
    with pytest.raises(rules.RuleError) as refused:
        rules.tag_name(" " + longest)
    assert refused.value.field == "tags"
    assert rules.tag_name(longest) == longest
    assert rules.tag_name("  vip ") == "vip"
