"""Campaign pages through Django's test client: roles as the API's, tenant isolation, errors
beside the field with nothing saved, the server refusing what a state does not allow, the test
send reaching only the signed-in user, the public unsubscribe page, and query counts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.campaigns import selectors, services, tokens
from stratus.campaigns.models import Campaign, CampaignState, Recipient, Segment, Suppression
from stratus.crm import services as crm_services
from stratus.realtime.store import EventStore, get_store
from stratus.reports import engines
from stratus.reports.contracts import ReportFilters
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


@pytest.fixture(autouse=True)
def _fast_sending(settings: Any) -> None:
    settings.CAMPAIGN_RATE_LIMIT = 0
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _contacts(org: Organization, count: int, tag: str = "vip") -> None:
    for i in range(count):
        crm_services.contact_create(
            org=org,
            actor=None,
            first_name=f"Ada{i}",
            last_name="Byron",
            email=f"ada{i}@{tag}.example",
            tags=[tag],
        )


def _campaign(org: Organization, *, name: str = "Spring", tag: str = "vip") -> Campaign:
    segment = services.segment_create(org=org, actor=None, name=f"{name} segment", filters={"tag": tag})
    return services.campaign_create(
        org=org,
        actor=None,
        name=name,
        segment=segment,
        subject="Hello {{ contact.first_name }}",
        body_text="Dear {{ contact.first_name|default:'friend' }}, news.",
    )


def _sent(org: Organization, campaign: Campaign) -> Campaign:
    services.campaign_schedule(org=org, campaign=campaign)
    services.campaign_start(campaign_id=campaign.pk)
    services.campaign_send_batch(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def _compose_data(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "Autumn",
        "audience": "new",
        "segment_name": "VIPs",
        "seg-tag": "vip",
        "subject": "Hi {{ contact.first_name }}",
        "body_text": "Hello.",
        "track_opens": "on",
    }
    data.update(changes)
    return data


# --- who sees and does what -------------------------------------------------------------------


def test_the_list_shows_each_campaign_with_its_numbers_and_only_the_organizations() -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    _contacts(org, 3)
    _sent(org, _campaign(org, name=XSS))
    _campaign(other, name="Secret plans")
    viewer = make_member(org, Role.VIEWER).user
    response = _client(viewer).get(reverse("web:campaign-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert XSS not in body
    assert "&lt;img src=x" in body
    assert "Secret plans" not in body
    assert 'data-testid="campaign-new"' not in body  # viewers read only
    row = body[body.index('data-testid="campaign-row-') :]
    assert 'data-label="Sent">3<' in row
    assert 'data-label="Delivered">3<' in row
    assert 'data-testid="nav-campaigns"' in body


def test_with_the_analytics_store_down_the_list_shows_no_figures_rather_than_zeros(
    dead_analytics_store: str,
) -> None:
    org = make_organization("Acme")
    _contacts(org, 3)
    _sent(org, _campaign(org, name="Spring launch"))
    response = _client(make_member(org, Role.VIEWER).user).get(reverse("web:campaign-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="figures-unavailable"' in body
    row = body[body.index('data-testid="campaign-row-') :]
    assert 'data-label="Sent">\u2013<' in row
    assert "Spring launch" in body


def test_a_campaign_of_another_organization_is_not_found_on_any_of_its_pages() -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    foreign = _campaign(other)
    client = _client(make_member(org, Role.OWNER).user)
    for name in ("web:campaign", "web:campaign-edit", "web:campaign-progress", "web:campaign-preview"):
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404, name
    assert client.post(reverse("web:campaign-action", args=[foreign.pk, "cancel"])).status_code == 404
    assert client.post(reverse("web:campaign-send", args=[foreign.pk]), {"when": "now"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == CampaignState.DRAFT


def test_viewers_cannot_create_send_or_test_send() -> None:
    org = make_organization()
    _contacts(org, 2)
    campaign = _campaign(org)
    client = _client(make_member(org, Role.VIEWER).user)
    assert client.get(reverse("web:campaign-new")).status_code == 403
    assert client.post(reverse("web:campaign-new"), _compose_data()).status_code == 403
    assert client.post(reverse("web:campaign-send", args=[campaign.pk]), {"when": "now"}).status_code == 403
    assert client.post(reverse("web:campaign-test-send", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("web:campaign-action", args=[campaign.pk, "cancel"])).status_code == 403
    # Reading and previewing are allowed, as through the API.
    assert client.get(reverse("web:campaign", args=[campaign.pk])).status_code == 200
    assert client.get(reverse("web:campaign-preview", args=[campaign.pk])).status_code == 200
    assert Campaign.objects.count() == 1
    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


# --- compose ----------------------------------------------------------------------------------


def test_a_campaign_is_created_with_a_new_segment_built_from_the_contact_filters() -> None:
    org = make_organization()
    _contacts(org, 2)
    _contacts(org, 1, tag="cold")
    member = make_member(org, Role.MEMBER).user
    response = _client(member).post(reverse("web:campaign-new"), _compose_data())
    campaign = Campaign.objects.get(organization=org)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:campaign", args=[campaign.pk])
    assert campaign.segment is not None
    assert (campaign.segment.name, campaign.segment.filters) == ("VIPs", {"tag": "vip"})
    assert campaign.created_by == member


def test_refused_content_is_shown_beside_its_field_and_nothing_is_saved() -> None:
    org = make_organization()
    member = make_member(org, Role.MEMBER).user
    data = _compose_data(subject="Hi {{ contact.password }}", segment_name="", body_text="")
    response = _client(member).post(reverse("web:campaign-new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "unknown merge field &#x27;contact.password&#x27;" in body
    assert 'id="id_subject-error"' in body
    assert 'aria-describedby="id_subject-error"' in body
    assert 'id="id_segment_name-error"' in body  # the new segment's name is required too
    assert 'id="id_body_text-error"' in body
    assert Campaign.objects.count() == 0
    assert Segment.objects.count() == 0


def test_an_unknown_filter_value_is_refused_beside_the_filter_and_nothing_is_saved() -> None:
    org = make_organization()
    member = make_member(org, Role.MEMBER).user
    response = _client(member).post(
        reverse("web:campaign-new"), _compose_data(**{"seg-created_after": "someday"})
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="filter-seg-created_after-error"' in body
    assert Campaign.objects.count() == 0
    assert Segment.objects.count() == 0


def test_a_taken_segment_name_is_refused_beside_it_and_the_campaign_is_not_saved() -> None:
    org = make_organization()
    services.segment_create(org=org, actor=None, name="VIPs", filters={})
    member = make_member(org, Role.MEMBER).user
    response = _client(member).post(reverse("web:campaign-new"), _compose_data())
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_segment_name-error"' in body
    assert "A segment with this name already exists." in body
    assert Campaign.objects.count() == 0
    assert Segment.objects.count() == 1


def test_a_segment_of_another_organization_cannot_be_chosen() -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    foreign = services.segment_create(org=other, actor=None, name="Theirs", filters={})
    member = make_member(org, Role.MEMBER).user
    data = _compose_data(audience="saved", segment=str(foreign.pk))
    response = _client(member).post(reverse("web:campaign-new"), data)
    assert response.status_code == 400
    assert Campaign.objects.filter(organization=org).count() == 0


def test_only_a_draft_can_be_edited() -> None:
    org = make_organization()
    _contacts(org, 1)
    campaign = _sent(org, _campaign(org))
    client = _client(make_member(org, Role.MEMBER).user)
    response = client.post(reverse("web:campaign-edit", args=[campaign.pk]), _compose_data(name="Changed"))
    assert response.status_code == 409
    assert "A sent campaign cannot be edited." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.name == "Spring"


def test_the_audience_count_follows_the_filters_and_the_chosen_segment() -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    _contacts(org, 3)
    _contacts(org, 2, tag="cold")
    _contacts(other, 7)
    Suppression.objects.create(organization=org, email="ada0@vip.example", reason="unsubscribed")
    client = _client(make_member(org, Role.VIEWER).user)
    url = reverse("web:campaign-audience")
    body = client.get(url, {"audience": "new", "seg-tag": "vip"}).content.decode()
    assert 'data-recipients="2"' in body
    assert "3 contacts match" in body
    assert "1 unsubscribed or bounced" in body
    body = client.get(url, {"audience": "new"}).content.decode()
    assert 'data-recipients="4"' in body  # every contact of the organization, none of the other's
    segment = services.segment_create(org=org, actor=None, name="Cold", filters={"tag": "cold"})
    body = client.get(url, {"audience": "saved", "segment": str(segment.pk)}).content.decode()
    assert 'data-recipients="2"' in body
    foreign = services.segment_create(org=other, actor=None, name="Theirs", filters={})
    body = client.get(url, {"audience": "saved", "segment": str(foreign.pk)}).content.decode()
    assert "Unknown segment." in body
    assert "data-recipients" not in body


# --- preview, test send, sending and its states -----------------------------------------------


def test_the_preview_renders_merge_fields_for_a_contact_of_the_organization_only() -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    _contacts(org, 2)
    outsider = crm_services.contact_create(org=other, actor=None, first_name="Eve", email="eve@other.example")
    campaign = _campaign(org)
    client = _client(make_member(org, Role.VIEWER).user)
    body = client.get(reverse("web:campaign-preview", args=[campaign.pk])).content.decode()
    assert "Hello Ada0" in body
    assert "Dear Ada0, news." in body
    response = client.get(reverse("web:campaign-preview", args=[campaign.pk]), {"contact": outsider.pk})
    assert response.status_code == 404
    assert "Eve" not in response.content.decode()


def test_the_test_send_reaches_the_signed_in_user_only() -> None:
    org = make_organization()
    _contacts(org, 3)
    campaign = _campaign(org)
    member = make_member(org, Role.MEMBER).user
    response = _client(member).post(reverse("web:campaign-test-send", args=[campaign.pk]))
    assert response.status_code == 200
    assert member.email in response.content.decode()
    assert [message.to for message in mail.outbox] == [[member.email]]
    assert mail.outbox[0].subject == "[Test] Hello Ada0"
    assert Recipient.objects.count() == 0
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


def test_send_now_pause_resume_and_cancel_follow_the_states_the_service_allows() -> None:
    org = make_organization()
    _contacts(org, 2)
    campaign = _campaign(org)
    client = _client(make_member(org, Role.MEMBER).user)

    def act(action: str) -> Any:
        return client.post(reverse("web:campaign-action", args=[campaign.pk, action]))

    refused = act("resume")
    assert refused.status_code == 409
    assert "A draft campaign cannot be resumed." in refused.content.decode()
    assert client.post(reverse("web:campaign-send", args=[campaign.pk]), {"when": "now"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.SCHEDULED
    assert act("pause").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    assert act("resume").status_code == 302
    assert act("cancel").status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CANCELLED
    again = act("pause")
    assert again.status_code == 409
    assert "A cancelled campaign cannot be paused." in again.content.decode()


def test_a_schedule_in_the_past_is_refused_beside_the_field() -> None:
    org = make_organization()
    _contacts(org, 1)
    campaign = _campaign(org)
    client = _client(make_member(org, Role.MEMBER).user)
    response = client.post(
        reverse("web:campaign-send", args=[campaign.pk]), {"when": "later", "at": "2001-01-01T10:00"}
    )
    assert response.status_code == 400
    assert 'id="id_at-error"' in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


def test_the_report_page_lists_the_recipients_with_their_state_page_by_page() -> None:
    org = make_organization()
    _contacts(org, 3)
    campaign = _sent(org, _campaign(org))
    client = _client(make_member(org, Role.VIEWER).user)
    body = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert body.count('data-testid="recipient-row"') == 3
    assert 'data-testid="number-delivered">3<' in body
    body = client.get(
        reverse("web:campaign-recipients", args=[campaign.pk]), {"state": "failed"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="recipient-row"' not in body
    assert 'data-testid="recipients-empty"' in body


# --- query counts -----------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_campaigns_or_recipients() -> None:
    org = make_organization()
    _contacts(org, 2)
    client = _client(make_member(org, Role.OWNER).user)
    first = _sent(org, _campaign(org, name="First"))
    few_list = _queries(client, reverse("web:campaign-list"))
    few_page = _queries(client, reverse("web:campaign", args=[first.pk]))
    _contacts(org, 12, tag="more")
    for i in range(5):
        _sent(org, _campaign(org, name=f"Later {i}", tag="more"))
    crm_services.contact_create(org=org, actor=None, first_name="Zed", email="zed@vip.example", tags=["vip"])
    crowded = _sent(org, _campaign(org, name="Crowded", tag="more"))
    assert _queries(client, reverse("web:campaign-list")) == few_list
    assert _queries(client, reverse("web:campaign", args=[crowded.pk])) == few_page


# --- the public unsubscribe page --------------------------------------------------------------


def test_the_unsubscribe_page_confirms_without_sign_in_and_shows_nothing_of_other_contacts() -> None:
    org = make_organization("Acme Tools")
    _contacts(org, 2)
    campaign = _sent(org, _campaign(org))
    recipient = Recipient.objects.get(campaign=campaign, email="ada0@vip.example")
    url = f"/c/u/{tokens.unsubscribe_token(recipient.pk)}/"
    page = Client().get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Acme Tools" in body
    assert "a***@vip.example" in body
    assert "ada0@vip.example" not in body
    assert "ada1" not in body
    assert 'data-testid="unsubscribe-form"' in body
    assert "<title>Unsubscribe · Stratus</title>" in body
    assert not Suppression.objects.exists()  # a GET never unsubscribes
    done = Client().post(url).content.decode()
    assert 'data-testid="unsubscribe-done"' in done
    assert "ada0@vip.example" not in done
    assert Suppression.objects.get().email == "ada0@vip.example"
    again = Client().get(url).content.decode()
    assert 'data-testid="unsubscribe-already"' in again
    forged = Client().get(f"/c/u/{recipient.pk}:forged/")
    assert forged.status_code == 400
    assert 'data-testid="unsubscribe-invalid"' in forged.content.decode()


# --- live progress ----------------------------------------------------------------------------


@pytest.fixture
def event_log(settings: Any) -> Iterator[EventStore]:
    """The real event log (Redis) under a prefix of this test's own."""
    url = settings.REALTIME_REDIS_URL
    if not url:
        pytest.fail("set REDIS_URL (or REALTIME_REDIS_URL): events are read back from the real event log")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield get_store()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.django_db(transaction=True)
def test_a_pause_from_the_page_announces_the_campaigns_progress_to_its_organization_only(
    event_log: EventStore,
) -> None:
    org, other = make_organization("Acme"), make_organization("Other")
    _contacts(org, 2)
    campaign = _campaign(org)
    services.campaign_schedule(org=org, campaign=campaign)
    client = _client(make_member(org, Role.MEMBER).user)
    before = asyncio.run(event_log.current(org.pk))
    assert client.post(reverse("web:campaign-action", args=[campaign.pk, "pause"])).status_code == 302
    backlog = asyncio.run(event_log.since(org.pk, before, 100))
    events = [json.loads(logged.text) for logged in backlog.events]
    assert [(e["event"], e["data"]["id"], e["data"]["state"]) for e in events] == [
        ("campaign.progress", campaign.pk, "paused")
    ]
    assert asyncio.run(event_log.current(other.pk)) == 0
    # The page's progress fragment is the one a campaign.progress event of this campaign refreshes.
    body = client.get(reverse("web:campaign", args=[campaign.pk])).content.decode()
    assert f'data-live-record="campaign:{campaign.pk}"' in body
    assert f'data-live-refresh="{reverse("web:campaign-progress", args=[campaign.pk])}"' in body


def test_the_campaign_pages_numbers_are_the_campaigns_reports() -> None:
    org = make_organization()
    _contacts(org, 5)
    campaign = _sent(org, _campaign(org))
    rows = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
    Recipient.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(state="failed")
    Suppression.objects.create(organization=org, email=rows[0].email, reason="bounced", campaign=campaign)
    Recipient.objects.filter(pk=rows[2].pk).update(opened_at=timezone.now(), clicked_at=timezone.now())
    Recipient.objects.filter(pk=rows[3].pk).update(unsubscribed_at=timezone.now())
    report = engines.run("campaigns", ReportFilters(organization_id=org.pk, as_of=timezone.now()))
    row = next(r for r in report.campaigns if r.campaign_id == campaign.pk)
    figures = selectors.campaign_figures(org=org, campaign=campaign)
    names = ("sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "failed")
    assert [getattr(figures, n) for n in names] == [getattr(row, n) for n in names] == [5, 3, 1, 1, 1, 1, 1]
