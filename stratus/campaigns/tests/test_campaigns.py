from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from stratus.campaigns import selectors, services, templating, tokens
from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState, Suppression
from stratus.platform.errors import ApplicationError, status_of

pytestmark = pytest.mark.django_db

HTML = (
    '<html><body><p>Hi {{ contact.first_name|default:"there" }} from {{ company.name }},</p>'
    '<p><a href="https://example.org/offer?a=1&amp;b=2">Offer</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def make_campaign(org, owner, **fields):
    segment = services.segment_create(
        org=org, actor=owner, name=fields.pop("segment_name", "VIPs"), filters={"tags": ["vip"]}
    )
    return services.campaign_create(
        org=org,
        actor=owner,
        name="Spring",
        segment=segment,
        subject=fields.pop("subject", "News for {{ contact.first_name }}"),
        body_html=fields.pop("body_html", HTML),
        from_name="Olive",
        from_email="olive@acme.example",
        **fields,
    )


def send_all(campaign: Campaign) -> None:
    assert services.campaign_start(campaign_id=campaign.pk)
    while services.campaign_send_batch(campaign_id=campaign.pk).more:
        pass


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% load static %}", "is not a merge field"),
        ("{{ contact.password }}", "unknown merge field 'contact.password'"),
        ("{{ contact.first_name|upper }}", "is not a merge field"),
        ("{{ settings.SECRET_KEY }}", "unknown merge field"),
    ],
)
def test_templates_refuse_anything_but_merge_fields(org, owner, template, message) -> None:
    with pytest.raises(ApplicationError) as error:
        services.campaign_create(org=org, actor=owner, name="x", subject="Hello", body_text=template)
    assert message in error.value.field_errors["body_text"][0]
    assert not Campaign.objects.exists()


def test_rendering_escapes_values_in_html_and_uses_fallbacks() -> None:
    values = {"contact.first_name": "<script>x</script>"}
    assert (
        templating.render("Hi {{ contact.first_name }}", values, escape=True)
        == "Hi &lt;script&gt;x&lt;/script&gt;"
    )
    assert (
        templating.render('Hi {{ contact.last_name|default:"friend" }}', values, escape=False) == "Hi friend"
    )


def test_segment_preview_counts_members(org, owner, vip_contacts) -> None:
    preview = selectors.segment_preview(org=org, filters={"tags": ["vip"]})
    assert (preview.count, preview.with_email, preview.suppressed) == (6, 5, 0)
    services.suppression_add(org=org, email="PERSON1@example.com")
    assert selectors.segment_preview(org=org, filters={"tags": ["vip"]}).suppressed == 1
    with pytest.raises(ApplicationError) as error:
        services.segment_create(org=org, actor=owner, name="bad", filters={"shoe_size": 3})
    assert "shoe_size" in error.value.field_errors


def test_a_campaign_sends_one_message_per_contact_with_unsubscribe_headers(org, owner, vip_contacts) -> None:
    services.suppression_add(org=org, email="person4@example.com")
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    counted = REGISTRY.get_sample_value("stratus_campaign_messages_sent_total") or 0.0
    send_all(campaign)
    send_all_again = services.campaign_send_batch(campaign_id=campaign.pk)
    assert send_all_again.sent == 0
    # The metric counts each message handed to the mail server once.
    assert REGISTRY.get_sample_value("stratus_campaign_messages_sent_total") == counted + 4

    assert sorted(m.to[0] for m in mail.outbox) == [f"person{i}@example.com" for i in range(4)]
    message = next(m for m in mail.outbox if m.to == ["person0@example.com"])
    recipient = Recipient.objects.get(campaign=campaign, email="person0@example.com")
    assert message.subject == "News for Person0"
    assert message.from_email == "Olive <olive@acme.example>"
    assert message.extra_headers["List-Unsubscribe"] == f"<{tokens.unsubscribe_url(recipient.pk)}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert "Hi Person0 from Analytical Engines" in html
    assert "https://crm.example.com/c/c/" in html  # click tracking
    assert "https://example.org/offer" not in html
    assert tokens.open_url(recipient.pk) in html
    assert "Hi Person0 from Analytical Engines" in message.body  # plain part from the HTML
    assert tokens.unsubscribe_url(recipient.pk) in message.body

    campaign.refresh_from_db()
    assert campaign.state == CampaignState.SENT
    stats = selectors.campaign_stats(org=org, campaign=campaign)
    assert (stats.recipients, stats.sent, stats.failed) == (4, 4, 0)  # the suppressed one is not a recipient


def test_unsubscribe_works_once_suppresses_later_sends_and_refuses_tampered_links(
    org, owner, vip_contacts
) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    send_all(campaign)
    recipient = Recipient.objects.get(campaign=campaign, email="person2@example.com")
    token = tokens.unsubscribe_token(recipient.pk)
    client = Client()

    page = client.get(f"/c/u/{token}/")
    assert page.status_code == 200
    assert not Suppression.objects.filter(email="person2@example.com").exists()  # GET never unsubscribes

    first = client.post(f"/c/u/{token}/", data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200
    assert "is unsubscribed" in first.content.decode()
    second = client.post(f"/c/u/{token}/", data={"List-Unsubscribe": "One-Click"})
    assert "already unsubscribed" in second.content.decode()
    assert (
        Suppression.objects.filter(
            organization=org, email="person2@example.com", reason="unsubscribed"
        ).count()
        == 1
    )
    assert selectors.campaign_stats(org=org, campaign=campaign).unsubscribes == 1

    number, signature = token.split(":")
    altered = signature[:-1] + ("B" if signature.endswith("A") else "A")  # always a different signature
    for tampered in (f"{recipient.pk + 1}:{signature}", f"{number}:{altered}", "junk"):
        response = client.post(f"/c/u/{tampered}/")
        assert response.status_code == 400
    assert Suppression.objects.filter(organization=org).count() == 1

    mail.outbox.clear()
    later = make_campaign(org, owner, segment_name="VIPs again")
    services.campaign_schedule(org=org, campaign=later)
    send_all(later)
    assert sorted(m.to[0] for m in mail.outbox) == [f"person{i}@example.com" for i in (0, 1, 3, 4)]


def test_open_pixel_and_signed_click_redirect_count_into_stats(org, owner, vip_contacts) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    send_all(campaign)
    recipient = Recipient.objects.get(campaign=campaign, email="person0@example.com")
    client = Client()
    for _ in range(2):
        assert (
            client.get(tokens.open_url(recipient.pk).removeprefix("https://crm.example.com")).status_code
            == 200
        )
    link = tokens.click_url(recipient.pk, "https://example.org/offer?a=1&b=2").removeprefix(
        "https://crm.example.com"
    )
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "https://example.org/offer?a=1&b=2"
    forged = link[:-3] + "abc/"
    assert client.get(forged).status_code == 400

    stats = selectors.campaign_stats(org=org, campaign=campaign)
    assert (stats.opens, stats.unique_opens, stats.clicks, stats.unique_clicks) == (2, 1, 1, 1)


def test_pause_resume_cancel(org, owner, vip_contacts, settings) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign, at=timezone.now() + timedelta(hours=1))
    assert not services.campaign_start(campaign_id=campaign.pk)  # not due yet
    services.campaign_schedule(org=org, campaign=campaign)
    assert services.campaign_start(campaign_id=campaign.pk)
    assert services.campaign_send_batch(campaign_id=campaign.pk, limit=2).sent == 2

    services.campaign_pause(org=org, campaign=campaign)
    assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 0
    with pytest.raises(ApplicationError) as error:
        services.campaign_update(org=org, campaign=campaign, subject="changed")
    assert status_of(error.value) == 409

    services.campaign_resume(org=org, campaign=campaign)
    assert services.campaign_send_batch(campaign_id=campaign.pk, limit=1).sent == 1
    services.campaign_cancel(org=org, campaign=campaign)
    assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 0
    stats = selectors.campaign_stats(org=org, campaign=campaign)
    assert (stats.sent, stats.skipped, stats.queued) == (3, 2, 0)
    assert len(mail.outbox) == 3


def test_a_row_left_sending_by_a_dead_sender_is_queued_again_and_sent_once(
    org, owner, vip_contacts, settings
) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_schedule(org=org, campaign=campaign)
    services.campaign_start(campaign_id=campaign.pk)
    stuck = Recipient.objects.filter(campaign=campaign).order_by("pk").first()
    assert stuck is not None
    # A sender claimed it and died before finishing the message (the server dropped it).
    long_ago = timezone.now() - timedelta(seconds=settings.CAMPAIGN_LEASE_SECONDS + 1)
    Recipient.objects.filter(pk=stuck.pk).update(state=RecipientState.SENDING, sending_since=long_ago)
    while services.campaign_send_batch(campaign_id=campaign.pk).more:
        pass
    assert stuck.email not in [m.to[0] for m in mail.outbox]  # not while its claim may be alive
    services.campaigns_sweep()
    stuck.refresh_from_db()
    assert (stuck.state, stuck.attempts) == (RecipientState.QUEUED, 1)
    while services.campaign_send_batch(campaign_id=campaign.pk).more:
        pass
    assert [m.to[0] for m in mail.outbox].count(stuck.email) == 1
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.SENT


def test_a_segment_in_use_cannot_be_deleted_and_a_campaign_never_falls_back_to_everyone(
    org, owner, vip_contacts
) -> None:
    campaign = make_campaign(org, owner)
    segment = campaign.segment
    assert segment is not None
    services.campaign_schedule(org=org, campaign=campaign, at=timezone.now() + timedelta(minutes=5))
    with pytest.raises(ApplicationError) as error:
        services.segment_delete(org=org, segment=segment)
    assert status_of(error.value) == 409
    Campaign.objects.filter(pk=campaign.pk).update(segment=None, scheduled_at=timezone.now())
    assert not services.campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CANCELLED
    assert not Recipient.objects.filter(campaign=campaign).exists()


def test_an_update_changes_only_what_it_is_given(org, owner) -> None:
    campaign = make_campaign(org, owner)
    segment_id = campaign.segment_id
    services.campaign_update(org=org, campaign=campaign, subject="Autumn news")
    campaign.refresh_from_db()
    assert (campaign.subject, campaign.name, campaign.from_name) == ("Autumn news", "Spring", "Olive")
    assert campaign.segment_id == segment_id
    services.campaign_update(org=org, campaign=campaign, segment=None)
    campaign.refresh_from_db()
    assert campaign.segment_id is None
    assert campaign.subject == "Autumn news"


def test_a_preview_without_a_contact_or_a_segment_names_the_field(org, owner) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_update(org=org, campaign=campaign, segment=None)
    with pytest.raises(ApplicationError) as refused:
        services.campaign_preview(org=org, campaign=campaign)
    assert (status_of(refused.value), refused.value.code) == (400, "contact_required")
    assert list(refused.value.field_errors) == ["contact"]


def test_every_refused_state_change_has_one_code(org, owner) -> None:
    campaign = make_campaign(org, owner)
    services.campaign_cancel(org=org, campaign=campaign)
    for change in (services.campaign_pause, services.campaign_resume, services.campaign_cancel):
        with pytest.raises(ApplicationError) as refused:
            change(org=org, campaign=campaign)
        assert (status_of(refused.value), refused.value.code) == (409, "invalid_state")
    assert Campaign.objects.get(pk=campaign.pk).state == CampaignState.CANCELLED
