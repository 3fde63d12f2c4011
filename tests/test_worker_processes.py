"""Workers and a beat as real processes against PostgreSQL, a private Redis and an SMTP server.

- A worker killed with SIGKILL in the middle of a campaign batch, then started again: every
  recipient got exactly one message, counted at the SMTP server.
- The Redis broker stopped while reminders come due, then started again: every reminder
  fires exactly once.
- The Redis broker stopped while a campaign batch runs (its message unacknowledged), then
  started again: the worker stays up throughout and every recipient got exactly one message.

Durations (see testsupport.background.FAST): sweeps every 1 s, a dead sender's lease expires after
10 s, unacknowledged messages are redelivered after 10 s.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from stratus.accounts.models import User
from stratus.accounts.services import organization_create
from stratus.campaigns import services as campaigns
from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState
from stratus.crm.models import Activity, Contact, Tag
from stratus.reminders import services as reminders
from stratus.reminders.models import Notification, Reminder, ReminderState
from testsupport.background import Process, beat, processes, sweeps_done, wait_for, worker
from testsupport.processes import live_database_url
from testsupport.servers import redis_server, smtp_server

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 150
OUTAGE_RECIPIENTS = 60


def campaign_env(broker_url: str, mail_url: str, tmp_path: Path, *, rate: int, batch: int) -> dict[str, str]:
    return {
        "DATABASE_URL": live_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_URL": mail_url,
        "CAMPAIGN_RATE_LIMIT": str(rate),
        "CAMPAIGN_BATCH_SIZE": str(batch),
        "DATA_DIR": str(tmp_path / "data"),
    }


def start_worker_and_beat(env: dict[str, str], tmp_path: Path, started: list[Process], log: str) -> Process:
    """A worker (returned once it is ready) and a beat, both added to ``started``."""
    started_worker = worker(env, tmp_path / log)
    started.append(started_worker)
    wait_for(lambda: "ready." in started_worker.output(), 60, "the worker to start")
    started.append(beat(env, tmp_path / "beat.log"))
    return started_worker


def test_a_worker_killed_mid_batch_sends_every_recipient_exactly_one_message(tmp_path: Path) -> None:
    owner = User.objects.create_user("owner@example.com")
    org = organization_create(name="Acme", owner=owner)
    tag = Tag.objects.create(organization=org, name="list")
    contacts = Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"P{i}", email=f"p{i:04d}@example.com")
        for i in range(RECIPIENTS)
    )
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=c.pk, tag_id=tag.pk) for c in contacts
    )
    segment = campaigns.segment_create(org=org, actor=owner, name="List", filters={"tags": ["list"]})
    campaign = campaigns.campaign_create(
        org=org,
        actor=owner,
        name="Kill",
        segment=segment,
        subject="Hello {{ contact.first_name }}",
        body_text="Hi",
    )

    with (
        smtp_server(tmp_path / "mail") as sink,
        redis_server(tmp_path / "redis") as broker,
        processes() as started,
    ):
        env = campaign_env(broker.url, sink.url, tmp_path, rate=60, batch=25)
        first = start_worker_and_beat(env, tmp_path, started, "worker-1.log")
        campaigns.campaign_schedule(org=org, campaign=campaign)  # commits; the sweep starts it too

        wait_for(lambda: len(sink.messages()) >= 40, 60, "the first messages")
        first.kill()
        at_kill = len(sink.messages())
        assert at_kill < RECIPIENTS, "the batch finished before the worker was killed"

        second = worker(env, tmp_path / "worker-2.log")
        started.append(second)
        wait_for(
            lambda: Campaign.objects.get(pk=campaign.pk).state == CampaignState.SENT,
            120,
            "the campaign to finish after the restart",
            interval=0.5,
        )

    received = Counter(str(message["To"]) for message in sink.parsed())
    expected = {f"p{i:04d}@example.com" for i in range(RECIPIENTS)}
    duplicates = {address: n for address, n in received.items() if n > 1}
    assert not duplicates, duplicates
    assert set(received) == expected, sorted(expected - set(received))
    states = Counter(Recipient.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == {RecipientState.SENT: RECIPIENTS}
    print(f"killed after {at_kill} of {RECIPIENTS} messages; all {len(received)} delivered once")


def test_reminders_that_come_due_while_the_broker_is_down_fire_once_it_is_back(tmp_path: Path) -> None:
    owner = User.objects.create_user("owner@example.com")
    org = organization_create(name="Acme", owner=owner)
    contact = Contact.objects.create(organization=org, first_name="Ada", email="ada@example.com")
    activity = Activity.objects.create(
        organization=org,
        subject="Call",
        assignee=owner,
        contact=contact,
        due_at=timezone.now() + timedelta(days=1),
    )

    with redis_server(tmp_path / "redis") as broker, processes() as started:
        env = {
            "DATABASE_URL": live_database_url(),
            "CELERY_BROKER_URL": broker.url,
            "DATA_DIR": str(tmp_path / "data"),
        }
        started.append(worker(env, tmp_path / "worker.log"))
        started.append(beat(env, tmp_path / "beat.log"))
        early = reminders.reminder_create(org=org, actor=owner, activity=activity, remind_at=timezone.now())
        wait_for(lambda: Notification.objects.filter(reminder=early).exists(), 60, "a reminder to fire")

        broker.stop()
        due_at = timezone.now() + timedelta(seconds=3)
        during = [
            reminders.reminder_create(
                org=org, actor=owner, activity=activity, remind_at=due_at + timedelta(milliseconds=100 * i)
            )
            for i in range(20)
        ]
        last_due = due_at + timedelta(milliseconds=100 * (len(during) - 1))
        # They all come due with the broker down, and a sweep passes after the last one.
        wait_for(lambda: timezone.now() > last_due + timedelta(seconds=1.5), 30, "the reminders to come due")
        assert not Notification.objects.filter(reminder__in=during).exists()

        broker.start()
        wait_for(
            lambda: Notification.objects.filter(reminder__in=during).count() == len(during),
            90,
            "the reminders to fire after the broker came back",
            interval=0.5,
        )
        # Two further sweeps find nothing more to do.
        done = sweeps_done(started[0])
        wait_for(lambda: sweeps_done(started[0]) >= done + 2, 30, "two more sweeps", interval=0.5)

    per_reminder = Counter(Notification.objects.values_list("reminder_id", flat=True))
    assert per_reminder == {r.pk: 1 for r in [early, *during]}
    assert set(Reminder.objects.values_list("state", flat=True)) == {ReminderState.FIRED}


def test_a_worker_survives_the_broker_stopping_in_the_middle_of_a_batch(tmp_path: Path) -> None:
    owner = User.objects.create_user("owner@example.com")
    org = organization_create(name="Acme", owner=owner)
    tag = Tag.objects.create(organization=org, name="list")
    contacts = Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"P{i}", email=f"p{i:04d}@example.com")
        for i in range(OUTAGE_RECIPIENTS)
    )
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=c.pk, tag_id=tag.pk) for c in contacts
    )
    segment = campaigns.segment_create(org=org, actor=owner, name="List", filters={"tags": ["list"]})
    campaign = campaigns.campaign_create(
        org=org, actor=owner, name="Outage", segment=segment, subject="Hello", body_text="Hi"
    )

    with (
        smtp_server(tmp_path / "mail") as sink,
        redis_server(tmp_path / "redis") as broker,
        processes() as started,
    ):
        # A batch of 20 at 10 a second runs for two seconds: the broker stops inside one.
        env = campaign_env(broker.url, sink.url, tmp_path, rate=10, batch=20)
        only = start_worker_and_beat(env, tmp_path, started, "worker.log")
        campaigns.campaign_schedule(org=org, campaign=campaign)

        wait_for(lambda: len(sink.messages()) >= 5, 60, "the first messages")
        broker.stop()
        # The running batch finishes with the broker down; its ack cannot be sent.
        wait_for(lambda: len(sink.messages()) >= 20, 30, "the running batch to finish")
        assert only.process.poll() is None, only.output()[-3000:]
        broker.start()
        wait_for(
            lambda: Campaign.objects.get(pk=campaign.pk).state == CampaignState.SENT,
            120,
            "the campaign to finish after the broker came back",
            interval=0.5,
        )
        assert only.process.poll() is None, only.output()[-3000:]

    received = Counter(str(message["To"]) for message in sink.parsed())
    assert received == {f"p{i:04d}@example.com": 1 for i in range(OUTAGE_RECIPIENTS)}
