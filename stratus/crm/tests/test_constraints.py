"""Database constraints hold whatever code writes the rows."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from stratus.crm import timeline
from stratus.crm.models import Activity, Company, Contact, Pipeline, Stage, StageKind, TimelineEntry
from testsupport.factories import make_organization, make_user

pytestmark = pytest.mark.django_db


def test_contact_email_unique_per_organization_ignoring_case() -> None:
    org, other = make_organization(), make_organization()
    Contact.objects.create(organization=org, email="Ann@Example.com")
    Contact.objects.create(organization=other, email="ann@example.com")
    Contact.objects.create(organization=org, first_name="No email")
    Contact.objects.create(organization=org, first_name="Another without email")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(organization=org, email="ANN@example.COM")
    assert Contact.objects.filter(organization=org).count() == 3


def test_contact_needs_a_name_or_an_email() -> None:
    org = make_organization()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(organization=org)
    assert not Contact.objects.filter(organization=org).exists()


def test_stage_positions_and_names_unique_within_a_pipeline() -> None:
    org = make_organization()
    pipeline = Pipeline.objects.create(organization=org, name="Sales")
    Stage.objects.create(organization=org, pipeline=pipeline, name="Lead", position=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.create(organization=org, pipeline=pipeline, name="Other", position=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.create(organization=org, pipeline=pipeline, name="LEAD", position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.create(organization=org, pipeline=pipeline, name="Won", position=2, kind=StageKind.WON)
    Stage.objects.create(
        organization=org, pipeline=pipeline, name="Won", position=2, kind=StageKind.WON, probability=100
    )
    assert list(pipeline.stages.values_list("name", flat=True)) == ["Lead", "Won"]


def test_one_default_pipeline_per_organization() -> None:
    org = make_organization()
    Pipeline.objects.create(organization=org, name="A", is_default=True)
    Pipeline.objects.create(organization=org, name="B")
    with pytest.raises(IntegrityError), transaction.atomic():
        Pipeline.objects.create(organization=org, name="C", is_default=True)


def test_activity_has_exactly_one_target() -> None:
    org = make_organization()
    company = Company.objects.create(organization=org, name="Acme")
    contact = Contact.objects.create(organization=org, first_name="Ann", company=company)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.create(organization=org, subject="No target")
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.create(organization=org, subject="Two targets", contact=contact, company=company)
    Activity.objects.create(organization=org, subject="Call Ann", contact=contact)
    assert Activity.objects.filter(organization=org).count() == 1


def test_timeline_record_stores_changes_as_json_and_the_parent_of_activities() -> None:
    org = make_organization()
    actor = make_user()
    contact = Contact.objects.create(organization=org, first_name="Ann")
    activity = Activity.objects.create(organization=org, subject="Call", contact=contact)
    entry = timeline.record(
        organization=org,
        actor=actor,
        target=activity,
        action="updated",
        changes={"subject": ("Call", "Call back")},
    )
    entry.refresh_from_db()
    assert entry.changes == {"subject": {"old": "Call", "new": "Call back"}}
    assert (entry.target_type, entry.target_id) == ("activity", activity.pk)
    assert (entry.parent_type, entry.parent_id) == ("contact", contact.pk)
    assert entry.actor == actor
    with pytest.raises(ValueError, match="does not belong"):
        timeline.record(organization=make_organization(), actor=actor, target=contact, action="updated")
    assert TimelineEntry.objects.filter(organization=org).count() == 1
