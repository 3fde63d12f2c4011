"""campaign.progress: announced on commit to the campaign's organization, throttled while sending."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings

from stratus.accounts.models import Organization, User
from stratus.accounts.services import organization_create
from stratus.campaigns import services
from stratus.campaigns.models import Campaign
from stratus.crm.models import Contact
from stratus.realtime.store import EventStore, get_store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def log(settings: Any) -> Iterator[EventStore]:
    url = django_settings.REALTIME_REDIS_URL
    if not url:
        pytest.fail("set REDIS_URL (or REALTIME_REDIS_URL): progress is read back from the real event log")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield get_store()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def progress_of(log: EventStore, org: Organization) -> list[dict[str, Any]]:
    backlog = asyncio.run(log.since(org.pk, 0, 10_000))
    events = [json.loads(logged.text) for logged in backlog.events]
    return [event["data"] for event in events if event["event"] == "campaign.progress"]


def campaign_for(org: Organization, owner: User, contacts: int) -> Campaign:
    Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"P{n}", email=f"p{n}@example.com") for n in range(contacts)
    )
    segment = services.segment_create(org=org, actor=owner, name="All", filters={"has_email": True})
    campaign = services.campaign_create(
        org=org, actor=owner, name="Spring", segment=segment, subject="Hello", body_text="Hi"
    )
    services.campaign_schedule(org=org, campaign=campaign)
    return campaign


@pytest.fixture
def orgs(settings: Any) -> tuple[Organization, Organization, User]:
    settings.CAMPAIGN_RATE_LIMIT = 0
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
    owner = User.objects.create_user("owner@example.com", "pw-123456789")
    other = User.objects.create_user("other@example.com", "pw-123456789")
    acme, other_org = (
        organization_create(name="Acme", owner=owner),
        organization_create(name="Other", owner=other),
    )
    return acme, other_org, owner


def test_progress_is_counted_per_percent_of_recipients_and_ends_with_the_final_state(
    log: EventStore, orgs: tuple[Organization, Organization, User], settings: Any
) -> None:
    org, other, owner = orgs
    settings.CAMPAIGN_PROGRESS_SECONDS = 0
    settings.CAMPAIGN_BATCH_SIZE = 1000
    campaign = campaign_for(org, owner, 300)
    assert services.campaign_start(campaign_id=campaign.pk)
    result = services.campaign_send_batch(campaign_id=campaign.pk)
    assert (result.sent, result.finished) == (300, True)

    progress = progress_of(log, org)
    assert progress[0] == {
        "id": campaign.pk,
        "state": "sending",
        "total": 300,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
        "pending": 300,
    }
    # One announcement per 1% (3 recipients), not one per message.
    assert [(p["state"], p["sent"], p["pending"]) for p in progress[1:-1]] == [
        ("sending", n, 300 - n) for n in range(3, 301, 3)
    ]
    assert progress[-1] == {**progress[0], "state": "sent", "sent": 300, "pending": 0}
    # Only the campaign's organization hears of it.
    assert asyncio.run(log.current(other.pk)) == 0


def test_progress_while_sending_waits_for_its_interval(
    log: EventStore, orgs: tuple[Organization, Organization, User], settings: Any
) -> None:
    org, _other, owner = orgs
    settings.CAMPAIGN_PROGRESS_SECONDS = 3600
    campaign = campaign_for(org, owner, 5)
    assert services.campaign_start(campaign_id=campaign.pk)
    assert services.campaign_send_batch(campaign_id=campaign.pk, limit=2).sent == 2
    services.campaign_pause(org=org, campaign=campaign)
    services.campaign_resume(org=org, campaign=campaign)
    services.campaign_cancel(org=org, campaign=campaign)

    progress = progress_of(log, org)
    assert [(p["state"], p["sent"], p["skipped"], p["pending"]) for p in progress] == [
        ("sending", 0, 0, 5),
        ("paused", 2, 0, 3),
        ("sending", 2, 0, 3),
        ("cancelled", 2, 3, 0),
    ]


def test_a_rolled_back_state_change_announces_nothing(
    log: EventStore, orgs: tuple[Organization, Organization, User]
) -> None:
    from django.db import transaction

    org, _other, owner = orgs
    campaign = campaign_for(org, owner, 2)
    assert services.campaign_start(campaign_id=campaign.pk)
    before = asyncio.run(log.current(org.pk))

    def failing_request() -> None:
        with transaction.atomic():
            services.campaign_pause(org=org, campaign=campaign)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert asyncio.run(log.current(org.pk)) == before
