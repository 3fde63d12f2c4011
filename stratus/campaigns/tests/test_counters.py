"""The campaigns report's counters equal a recount of the recipients after sending, repeated
tracking events, failures, bulk edits and deletes; the report reads a fixed number of queries."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from stratus.campaigns import services, tokens
from stratus.campaigns.counters import EVENTS
from stratus.campaigns.models import CampaignDay, CampaignStateCount, Recipient, RecipientState
from stratus.campaigns.tests.test_campaigns import make_campaign, send_all
from stratus.reports.contracts import ReportFilters
from stratus.reports.engines.database import DatabaseEngine

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def recount() -> tuple[Counter[tuple[object, ...]], Counter[tuple[object, ...]]]:
    days: Counter[tuple[object, ...]] = Counter()
    states: Counter[tuple[object, ...]] = Counter()
    for r in Recipient.objects.all():
        states[(r.organization_id, r.campaign_id, r.state)] += 1
        for metric, column in EVENTS.items():
            moment = getattr(r, column)
            if moment is not None:
                days[(r.organization_id, r.campaign_id, moment.astimezone(UTC).date(), metric)] += 1
    return days, states


def counters() -> tuple[Counter[tuple[object, ...]], Counter[tuple[object, ...]]]:
    days = CampaignDay.objects.values_list("organization_id", "campaign_id", "day", "metric", "total")
    states = CampaignStateCount.objects.values_list("organization_id", "campaign_id", "state", "total")
    assert all(row[4] > 0 for row in days)  # no empty rows are kept
    assert all(row[3] > 0 for row in states)
    return Counter({tuple(row[:-1]): row[-1] for row in days}), Counter(
        {tuple(row[:-1]): row[-1] for row in states}
    )


def assert_exact() -> None:
    assert counters() == recount()


def path(url: str) -> str:
    return url.removeprefix("https://crm.example.com")


def test_sending_tracking_and_edits_keep_the_counters_equal_to_a_recount(org, owner, vip_contacts) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    assert services.campaign_start(campaign_id=campaign.pk)
    assert_exact()  # all queued
    while services.campaign_send_batch(campaign_id=campaign.pk).more:
        pass
    assert_exact()
    delivered = Recipient.objects.filter(campaign=campaign, state=RecipientState.SENT).count()
    assert delivered > 1
    assert CampaignStateCount.objects.get(campaign=campaign, state=RecipientState.SENT).total == delivered

    first, second = Recipient.objects.filter(campaign=campaign, state=RecipientState.SENT).order_by("pk")[:2]
    client = Client()
    for _ in range(3):  # repeated opens and clicks count each recipient once
        assert client.get(path(tokens.open_url(first.pk))).status_code == 200
        assert client.get(path(tokens.click_url(first.pk, "https://example.org/a"))).status_code == 302
    assert client.get(path(tokens.open_url(second.pk))).status_code == 200
    for _ in range(2):  # a second unsubscribe changes nothing
        services.recipient_unsubscribe(token=tokens.unsubscribe_token(second.pk))
    assert_exact()
    totals = {
        m: sum(r.total for r in CampaignDay.objects.filter(campaign=campaign, metric=m)) for m in EVENTS
    }
    assert totals == {"delivered": delivered, "opened": 2, "clicked": 1, "unsubscribed": 1}

    # Bulk edits and timestamps set after the fact, a failure, then deletes and a cascade.
    Recipient.objects.filter(pk=first.pk).update(
        opened_at=datetime.datetime(2026, 1, 5, 23, 59, tzinfo=UTC),
        sent_at=datetime.datetime(2026, 1, 5, tzinfo=UTC),
    )
    Recipient.objects.filter(pk=second.pk).update(state=RecipientState.FAILED, sent_at=None)
    assert_exact()
    Recipient.objects.filter(pk=first.pk).delete()
    assert_exact()
    campaign.delete()
    assert not CampaignDay.objects.exists()
    assert not CampaignStateCount.objects.exists()
    assert_exact()


def test_the_rebuild_command_recounts_and_the_report_reads_a_fixed_number_of_queries(
    org, owner, vip_contacts
) -> None:
    engine = DatabaseEngine()
    filters = ReportFilters(organization_id=org.pk, as_of=datetime.datetime.now(UTC))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            engine.campaigns(filters)
        return len(captured)

    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    few = queries()
    send_all(campaign)
    for recipient in Recipient.objects.filter(campaign=campaign):
        Client().get(path(tokens.open_url(recipient.pk)))
    later = make_campaign(org, owner, segment_name="VIPs again")
    services.campaign_schedule(org=org, campaign=later)
    send_all(later)
    assert queries() == few

    CampaignStateCount.objects.update(total=99)
    CampaignDay.objects.filter(metric="opened").delete()
    call_command("reports_rebuild_summaries", verbosity=0)
    assert_exact()
    call_command("reports_rebuild_summaries", verbosity=0)
    assert_exact()
