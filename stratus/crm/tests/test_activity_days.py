"""The activity report's summary (``ActivityDay``) equals a recount of the activities after
every kind of write: the services, queryset updates and deletes, cascades and ``SET NULL``."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stratus.accounts.models import Organization, User
from stratus.crm.models import Activity, ActivityDay, ActivityKind, Contact
from stratus.crm.services import (
    activity_create,
    activity_delete,
    activity_update,
    contact_create,
    contact_delete,
)
from stratus.reports.contracts import ReportFilters
from stratus.reports.engines.database import DatabaseEngine
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def recount() -> Counter[tuple[int, datetime.date, int, str]]:
    return Counter(
        (a.organization_id, a.created_at.astimezone(UTC).date(), a.assignee_id or 0, a.kind)
        for a in Activity.objects.all()
    )


def summary() -> Counter[tuple[int, datetime.date, int, str]]:
    rows = ActivityDay.objects.values_list("organization_id", "day", "assignee_key", "kind", "total")
    assert all(total > 0 for *_, total in rows)  # no empty rows are kept
    return Counter({(org, day, assignee, kind): total for org, day, assignee, kind, total in rows})


def assert_exact() -> None:
    assert summary() == recount()


def setup_org() -> tuple[Organization, User, User, Contact]:
    org = make_organization()
    first, second = make_member(org).user, make_member(org).user
    contact = contact_create(org=org, actor=first, first_name="Ada", email="ada@example.com")
    return org, first, second, contact


def test_every_write_keeps_the_summary_equal_to_a_recount() -> None:
    org, first, second, contact = setup_org()
    other, other_user, _, other_contact = setup_org()
    made = [
        activity_create(org=org, actor=first, subject=f"s{i}", kind=kind, contact=contact, assignee=who)
        for i, (kind, who) in enumerate(
            [
                (ActivityKind.TASK, first),
                (ActivityKind.TASK, first),
                (ActivityKind.CALL, second),
                (ActivityKind.MEETING, None),
                (ActivityKind.NOTE, first),
            ]
        )
    ]
    activity_create(org=other, actor=other_user, subject="x", contact=other_contact, assignee=other_user)
    assert_exact()
    assert ActivityDay.objects.filter(organization=org, kind=ActivityKind.TASK).get().total == 2

    # The services: a change of kind, of assignee, of nothing counted; a delete.
    activity_update(org=org, actor=first, activity=made[0], kind=ActivityKind.CALL)
    activity_update(org=org, actor=first, activity=made[1], assignee=second)
    activity_update(org=org, actor=first, activity=made[2], subject="renamed", done=True)
    assert_exact()
    activity_delete(org=org, actor=first, activity=made[4])
    assert_exact()
    assert not ActivityDay.objects.filter(organization=org, kind=ActivityKind.NOTE).exists()

    # Timestamps set after the fact and bulk edits (queryset updates), then a bulk delete.
    Activity.objects.filter(pk=made[0].pk).update(
        created_at=datetime.datetime(2026, 1, 5, 23, 59, tzinfo=UTC)
    )
    Activity.objects.filter(pk=made[1].pk).update(created_at=datetime.datetime(2026, 1, 6, 0, 0, tzinfo=UTC))
    Activity.objects.filter(organization=org, assignee=second).update(assignee=first, kind=ActivityKind.NOTE)
    assert_exact()
    Activity.objects.filter(pk=made[3].pk).delete()
    assert_exact()

    # Cascades: deleting a member's user leaves their activities unassigned (SET NULL); deleting
    # a contact deletes its activities.
    again = activity_create(
        org=org, actor=first, subject="y", kind=ActivityKind.CALL, contact=contact, assignee=second
    )
    second.delete()
    assert Activity.objects.get(pk=again.pk).assignee_id is None
    assert_exact()
    contact_delete(org=org, actor=first, contact=contact)
    assert not Activity.objects.filter(organization=org).exists()
    assert not ActivityDay.objects.filter(organization=org).exists()
    assert_exact()
    assert ActivityDay.objects.filter(organization=other).get().total == 1


def test_the_rebuild_command_recounts_and_is_idempotent() -> None:
    org, first, _, contact = setup_org()
    for kind in (ActivityKind.TASK, ActivityKind.CALL, ActivityKind.CALL):
        activity_create(org=org, actor=first, subject="s", kind=kind, contact=contact, assignee=first)
    ActivityDay.objects.update(total=99)
    ActivityDay.objects.create(
        organization=org, day=datetime.date(2020, 1, 1), assignee_key=0, kind=ActivityKind.NOTE, total=3
    )
    call_command("reports_rebuild_summaries", verbosity=0)
    assert_exact()
    call_command("reports_rebuild_summaries", "--organization", str(org.pk), verbosity=0)
    assert_exact()


def test_the_activity_report_reads_a_fixed_number_of_queries() -> None:
    org, first, second, contact = setup_org()
    engine = DatabaseEngine()
    filters = ReportFilters(organization_id=org.pk, as_of=datetime.datetime.now(UTC))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            engine.activity(filters)
        return len(captured)

    activity_create(org=org, actor=first, subject="s", contact=contact, assignee=first)
    few = queries()
    for i in range(12):
        made = activity_create(
            org=org, actor=first, subject=f"s{i}", kind=ActivityKind.CALL, contact=contact, assignee=second
        )
        Activity.objects.filter(pk=made.pk).update(created_at=datetime.datetime(2026, 1 + i, 1, tzinfo=UTC))
    assert queries() == few
