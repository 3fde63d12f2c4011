"""Campaigns in a browser: build a segment with the contact filters and see its count, write
with a merge field, preview, test-send to oneself, send now, pause and resume, and the SMTP sink
(a real SMTP server process) receives exactly the segment's recipients with the merge fields
rendered; cancel; the public unsubscribe page; axe-core on every page, and a phone at 375 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from stratus.accounts.models import Organization, Role, User
from stratus.campaigns import services, tokens
from stratus.campaigns.models import Campaign, CampaignState, Recipient, Suppression
from stratus.crm import services as crm_services
from tests.browser import test_shell as shell
from tests.browser.conftest import Visitor
from tests.browser.test_shell import Replicas
from testsupport.factories import make_member_who_signs_in, make_organization
from testsupport.servers import SmtpSink, smtp_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.subprocess]

PASSWORD = "correct horse battery staple"
SEGMENT = {"ada@example.com": "Ada", "grace@example.com": "Grace", "linus@example.com": "Linus"}


@pytest.fixture
def sink(settings: Any, tmp_path: Path) -> Iterator[SmtpSink]:
    """Mail goes to a real SMTP server process; the live server runs in this process, so these
    settings are the pages' settings too."""
    with smtp_server(tmp_path / "mail", tempfail_times=0) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.CAMPAIGN_RATE_LIMIT = 0
        settings.PUBLIC_BASE_URL = "https://crm.example.com"
        yield server


def _sign_in(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + path)


def _crm(org: Organization) -> None:
    for email, first_name in SEGMENT.items():
        crm_services.contact_create(org=org, actor=None, first_name=first_name, email=email, tags=["vip"])
    crm_services.contact_create(org=org, actor=None, first_name="Nomail", tags=["vip"])
    crm_services.contact_create(
        org=org, actor=None, first_name="Gone", email="gone@example.com", tags=["vip"]
    )
    Suppression.objects.create(organization=org, email="gone@example.com", reason="unsubscribed")
    crm_services.contact_create(
        org=org, actor=None, first_name="Cold", email="cold@example.com", tags=["cold"]
    )


def _work() -> None:
    """What the worker does with a due campaign: start it, then send its batches."""
    for campaign in Campaign.objects.filter(state__in=[CampaignState.SCHEDULED, CampaignState.SENDING]):
        services.campaign_start(campaign_id=campaign.pk)
        while services.campaign_send_batch(campaign_id=campaign.pk).more:
            pass


def _fits(visitor: Visitor) -> None:
    assert visitor.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_campaign_built_written_previewed_tested_and_sent_reaches_exactly_its_segment(
    visitor: Visitor, sink: SmtpSink
) -> None:
    org = make_organization("Acme")
    _crm(org)
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    page = visitor.page
    _sign_in(visitor, user, "/campaigns")
    expect(page.get_by_test_id("campaigns-empty")).to_be_visible()
    visitor.check_accessibility()

    page.get_by_test_id("campaign-new").click()
    page.wait_for_url(visitor.base_url + "/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Spring news")
    page.get_by_test_id("audience-new").check()
    page.get_by_label("Name of the new segment").fill("VIPs")
    count = page.get_by_test_id("audience-count")
    expect(count).to_have_attribute("data-recipients", "4")  # every contact with an address, not suppressed
    page.get_by_test_id("segment-builder").get_by_label("Has all tags").fill("vip")
    expect(count).to_have_attribute("data-recipients", "3")
    expect(count).to_contain_text("5 contacts match")
    visitor.check_accessibility()

    subject = page.get_by_label("Subject")
    subject.fill("Hello ")
    page.get_by_test_id("merge-menu").locator("summary").click()
    page.get_by_test_id("merge-contact.first_name").click()
    expect(subject).to_have_value("Hello {{ contact.first_name }}")
    page.get_by_label("Plain-text body").fill("Dear {{ contact.first_name }}, spring is here.")
    page.get_by_test_id("campaign-save").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    campaign = Campaign.objects.get(organization=org)
    assert campaign.segment is not None
    assert campaign.segment.filters == {"tag": "vip"}
    expect(page.get_by_test_id("campaign-state")).to_have_text("Draft")
    visitor.check_accessibility()

    # Preview as the second contact of the segment.
    page.get_by_test_id("preview-contact").select_option(label="Grace <grace@example.com>")
    page.get_by_test_id("preview-show").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Hello Grace")
    expect(page.get_by_test_id("preview-text")).to_contain_text("Dear Grace, spring is here.")
    visitor.check_accessibility()

    # The test goes to the signed-in user only.
    page.get_by_test_id("test-send").click()
    expect(page.get_by_test_id("test-send-result")).to_contain_text(user.email)
    tests = sink.parsed()
    assert [str(m["To"]) for m in tests] == [user.email]
    assert tests[0]["Subject"] == "[Test] Hello Grace"
    assert Recipient.objects.count() == 0

    # Send now; pause and resume while it waits for the worker; then the worker sends.
    page.get_by_test_id("send-submit").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Scheduled")
    page.get_by_test_id("campaign-pause").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Paused")
    visitor.check_accessibility()
    page.get_by_test_id("campaign-resume").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Scheduled")
    _work()
    # The progress fragment follows the campaign to its end without a reload.
    expect(page.get_by_test_id("campaign-state")).to_have_text("Sent", timeout=15_000)
    expect(page.get_by_test_id("number-delivered")).to_have_text("3")
    expect(page.get_by_test_id("campaign-pause")).to_have_count(0)

    sent = [m for m in sink.parsed() if not str(m["Subject"]).startswith("[Test]")]
    assert sorted(str(m["To"]) for m in sent) == sorted(SEGMENT)
    for message in sent:
        name = SEGMENT[str(message["To"])]
        assert message["Subject"] == f"Hello {name}"
        assert message.get_content_type() == "text/plain"  # no HTML body was written
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        assert f"Dear {name}, spring is here." in payload.decode()

    page.reload()
    expect(page.get_by_test_id("recipient-row")).to_have_count(3)
    visitor.check_accessibility()
    page.get_by_role("link", name="Campaigns", exact=True).first.click()
    row = page.get_by_test_id(f"campaign-row-{campaign.pk}")
    expect(row).to_contain_text("Sent")
    visitor.check_accessibility()


def test_a_scheduled_campaign_is_cancelled_and_a_refused_action_says_why(
    visitor: Visitor, sink: SmtpSink
) -> None:
    org = make_organization("Acme")
    _crm(org)
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    segment = services.segment_create(org=org, actor=None, name="VIPs", filters={"tag": "vip"})
    campaign = services.campaign_create(
        org=org, actor=None, name="Later", segment=segment, subject="Hi", body_text="Soon."
    )
    services.campaign_schedule(org=org, campaign=campaign)
    page = visitor.page
    page.on("dialog", lambda dialog: dialog.accept())
    path = f"/campaigns/{campaign.pk}"
    _sign_in(visitor, user, path)
    # Meanwhile a colleague pauses it through the API: the page still offers Pause; the server refuses.
    services.campaign_cancel(org=org, campaign=campaign)
    page.get_by_test_id("campaign-pause").click()
    expect(page.get_by_test_id("campaign-error")).to_have_text("A cancelled campaign cannot be paused.")
    expect(page.get_by_test_id("campaign-state")).to_have_text("Cancelled")
    visitor.check_accessibility()

    second = services.campaign_create(
        org=org, actor=None, name="Again", segment=segment, subject="Hi", body_text="x"
    )
    services.campaign_schedule(org=org, campaign=second)
    visitor.goto(f"/campaigns/{second.pk}")
    page.get_by_test_id("campaign-cancel").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("Cancelled")
    _work()
    assert sink.messages() == []


def test_on_a_phone_the_pages_fit_and_a_recipient_unsubscribes_without_signing_in(
    phone: Visitor, sink: SmtpSink
) -> None:
    org = make_organization("Acme Tools")
    _crm(org)
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    segment = services.segment_create(org=org, actor=None, name="VIPs", filters={"tag": "vip"})
    campaign = services.campaign_create(
        org=org, actor=None, name="Phone", segment=segment, subject="Hi", body_text="Hello."
    )
    services.campaign_schedule(org=org, campaign=campaign)
    _work()
    page = phone.page
    _sign_in(phone, user, "/campaigns")
    _fits(phone)
    phone.check_accessibility()
    phone.goto(f"/campaigns/{campaign.pk}")
    expect(page.get_by_test_id("recipient-row")).to_have_count(3)
    _fits(phone)
    phone.check_accessibility()
    phone.goto("/campaigns/new")
    _fits(phone)
    phone.check_accessibility()

    # The recipient, in a browser that never signed in.
    page.context.clear_cookies()
    recipient = Recipient.objects.get(campaign=campaign, email="ada@example.com")
    phone.goto(f"/c/u/{tokens.unsubscribe_token(recipient.pk)}/")
    card = page.get_by_test_id("unsubscribe")
    expect(card).to_contain_text("Acme Tools")
    expect(card).to_contain_text("a**@example.com")
    expect(card).not_to_contain_text("grace")
    _fits(phone)
    phone.check_accessibility()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_test_id("unsubscribe-done")).to_be_visible()
    phone.check_accessibility()
    assert Suppression.objects.filter(organization=org, email="ada@example.com").exists()
    phone.goto("/c/u/1:tampered/")
    expect(page.get_by_test_id("unsubscribe-invalid")).to_be_visible()
    phone.check_accessibility()


# The app processes of the shell's live-update tests (gunicorn with the WebSocket server).
replicas = shell.replicas
cluster = shell.cluster
contexts = shell.contexts


def test_the_progress_of_a_sending_campaign_arrives_over_the_websocket(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext], settings: Any
) -> None:
    settings.CAMPAIGN_RATE_LIMIT = 0
    settings.CAMPAIGN_PROGRESS_SECONDS = 0
    org = make_organization("Acme")
    _crm(org)
    ada = shell._user(org, "Ada Lovelace")
    segment = services.segment_create(org=org, actor=None, name="VIPs", filters={"tag": "vip"})
    campaign = services.campaign_create(
        org=org, actor=None, name="Live", segment=segment, subject="Hi", body_text="x"
    )
    services.campaign_schedule(org=org, campaign=campaign)
    visitor = shell._visitor(browser, contexts, cluster.a.url)
    shell._watch_live(visitor)
    shell._sign_in(visitor, ada)
    visitor.goto(f"/campaigns/{campaign.pk}")
    shell._live(visitor)
    expect(visitor.page.get_by_test_id("campaign-state")).to_have_text("Scheduled")

    _work()  # this process sends like a worker, and announces like one (the replicas' event log)
    expect(visitor.page.get_by_test_id("campaign-state")).to_have_text("Sent", timeout=shell.LIVE_WAIT_MS)
    expect(visitor.page.get_by_test_id("number-delivered")).to_have_text("3")
    assert "campaign.progress" in visitor.page.evaluate("window.__liveEvents")
    visitor.check_accessibility()
