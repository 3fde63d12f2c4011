from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.accounts.services import membership_set, organization_create
from stratus.crm.models import Activity, Contact, Deal, Pipeline, Stage
from stratus.platform.errors import ApplicationError
from stratus.reminders import selectors, services
from stratus.reminders.models import EmailState, Notification, Reminder, ReminderState

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("owner@example.com", "pw-123456789")


@pytest.fixture
def org(owner: User) -> Organization:
    return organization_create(name="Acme", owner=owner)


@pytest.fixture
def activity(org: Organization, owner: User) -> Activity:
    contact = Contact.objects.create(organization=org, first_name="Ada", email="ada@example.com")
    return Activity.objects.create(
        organization=org,
        subject="Call Ada",
        due_at=timezone.now() + timedelta(hours=2),
        assignee=owner,
        contact=contact,
    )


@pytest.fixture
def deal(org: Organization, owner: User) -> Deal:
    pipeline = Pipeline.objects.create(organization=org, name="Sales")
    stage = Stage.objects.create(organization=org, pipeline=pipeline, name="New", position=0)
    return Deal.objects.create(
        organization=org,
        title="Big deal",
        pipeline=pipeline,
        stage=stage,
        owner=owner,
        expected_close_date=date.today() + timedelta(days=3),
    )


def test_relative_reminder_follows_the_activity_due_date(org, owner, activity) -> None:
    reminder = services.reminder_create(org=org, actor=owner, activity=activity, offset=timedelta(minutes=30))
    assert activity.due_at is not None
    assert reminder.remind_at == activity.due_at - timedelta(minutes=30)
    assert reminder.user == owner

    activity.due_at = activity.due_at + timedelta(days=1)
    activity.save()
    reminder.refresh_from_db()
    assert reminder.remind_at == activity.due_at - timedelta(minutes=30)

    activity.due_at = None
    activity.save()
    reminder.refresh_from_db()
    assert reminder.remind_at is None


def test_deal_reminder_counts_back_from_the_expected_close_date(org, owner, deal) -> None:
    reminder = services.reminder_create(org=org, actor=owner, deal=deal, offset=timedelta(days=1))
    due = services.deal_due_at(deal.expected_close_date)
    assert due is not None
    assert due.hour == 9
    assert reminder.remind_at == due - timedelta(days=1)


def test_a_reminder_needs_exactly_one_target_and_one_timing(org, owner, activity, deal) -> None:
    with pytest.raises(ApplicationError) as error:
        services.reminder_create(org=org, actor=owner, activity=activity, deal=deal, offset=timedelta(0))
    assert set(error.value.field_errors) == {"activity", "deal"}
    with pytest.raises(ApplicationError) as error:
        services.reminder_create(
            org=org, actor=owner, activity=activity, remind_at=timezone.now(), offset=timedelta(0)
        )
    assert "remind_at" in error.value.field_errors
    other = organization_create(name="Other", owner=owner)
    with pytest.raises(ApplicationError) as error:
        services.reminder_create(org=other, actor=owner, activity=activity, remind_at=timezone.now())
    assert error.value.field_errors == {"activity": ["Not found in this organization."]}
    assert Reminder.objects.count() == 0


def test_due_reminders_fire_once_with_a_notification_and_email_for_opted_in_users(
    org, owner, activity, deal
) -> None:
    colleague = User.objects.create_user("colleague@example.com", "pw-123456789")
    membership_set(org=org, user=colleague, role=Role.MEMBER)
    services.notification_preference_set(actor=colleague, email_reminders=True)
    now = timezone.now()
    first = services.reminder_create(
        org=org, actor=owner, activity=activity, remind_at=now - timedelta(minutes=1)
    )
    second = services.reminder_create(
        org=org,
        actor=owner,
        deal=deal,
        remind_at=now - timedelta(seconds=1),
        user=colleague,
        note="Call them",
    )
    later = services.reminder_create(
        org=org, actor=owner, activity=activity, remind_at=now + timedelta(hours=1)
    )

    assert services.reminders_fire_due(now=now) == 2
    assert services.reminders_fire_due(now=now) == 0

    notes = {n.reminder_id: n for n in Notification.objects.all()}
    assert set(notes) == {first.pk, second.pk}
    assert notes[first.pk].user == owner
    assert notes[first.pk].email_state == EmailState.NONE
    assert notes[second.pk].user == colleague
    assert notes[second.pk].email_state == EmailState.PENDING
    assert notes[second.pk].title.startswith("Reminder: deal Big deal")
    assert notes[second.pk].body == "Call them"
    later.refresh_from_db()
    assert later.state == ReminderState.PENDING

    assert services.notification_send_email(notification_id=notes[second.pk].pk) == "sent"
    assert services.notification_send_email(notification_id=notes[second.pk].pk) == "nothing to do"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["colleague@example.com"]
    assert "Big deal" in mail.outbox[0].subject


def test_reminders_of_a_done_task_are_cancelled(org, owner, activity) -> None:
    reminder = services.reminder_create(org=org, actor=owner, activity=activity, offset=timedelta(minutes=5))
    activity.done = True
    activity.done_at = timezone.now()
    activity.save()
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.CANCELLED
    assert services.reminders_fire_due(now=timezone.now() + timedelta(days=1)) == 0


def test_notifications_are_marked_read_per_user(org, owner, activity) -> None:
    services.reminder_create(org=org, actor=owner, activity=activity, remind_at=timezone.now())
    services.reminder_create(org=org, actor=owner, activity=activity, remind_at=timezone.now())
    services.reminders_fire_due()
    first, second = Notification.objects.order_by("pk")
    services.notification_mark_read(org=org, actor=owner, notification_id=first.pk)
    first.refresh_from_db()
    assert first.read_at is not None
    stranger = User.objects.create_user("stranger@example.com", "pw-123456789")
    with pytest.raises(ApplicationError):
        services.notification_mark_read(org=org, actor=stranger, notification_id=second.pk)
    assert services.notifications_mark_all_read(org=org, actor=owner) == 1
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_an_update_keeps_the_timing_it_is_not_given(org, owner, activity) -> None:
    reminder = services.reminder_create(org=org, actor=owner, activity=activity, offset=timedelta(minutes=30))
    due = reminder.remind_at
    services.reminder_update(org=org, reminder=reminder, note="  call first  ")
    reminder.refresh_from_db()
    assert (reminder.note, reminder.offset, reminder.remind_at) == ("call first", timedelta(minutes=30), due)
    at = timezone.now() + timedelta(hours=2)
    services.reminder_update(org=org, reminder=reminder, remind_at=at)
    reminder.refresh_from_db()
    assert (reminder.offset, reminder.remind_at, reminder.note) == (None, at, "call first")


def test_notification_pages_are_the_actor_s_newest_first(org, owner) -> None:
    other = User.objects.create_user("other-reader@example.com")
    membership_set(org=org, user=other, role=Role.MEMBER)
    mine = [Notification.objects.create(organization=org, user=owner, title=f"n{i}") for i in range(5)]
    Notification.objects.create(organization=org, user=other, title="theirs")
    elsewhere = organization_create(name="Elsewhere", owner=owner)
    Notification.objects.create(organization=elsewhere, user=owner, title="elsewhere")
    first = selectors.notification_page(org=org, actor=owner, before=None, limit=3)
    assert first == mine[::-1][:3]
    rest = selectors.notification_page(org=org, actor=owner, before=first[-1].pk, limit=3)
    assert rest == mine[::-1][3:]
    mine[0].read_at = timezone.now()
    mine[0].save(update_fields=["read_at"])
    assert selectors.notification_unread_count(org=org, actor=owner) == 4
