"""Sending to a real SMTP server process: temporary failures retried, permanent ones bounced."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from stratus.campaigns import selectors, services
from stratus.campaigns.models import Recipient, RecipientState, Suppression
from stratus.crm import services as crm
from testsupport.servers import smtp_server

pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]


def test_smtp_sending_retries_temporary_failures_and_suppresses_bounces(
    org, owner, settings, tmp_path: Path
) -> None:
    for name in ("ok1", "ok2", "tempfail", "permfail"):
        crm.contact_create(org=org, actor=owner, first_name=name, email=f"{name}@example.com", tags=["list"])
    segment = services.segment_create(org=org, actor=owner, name="List", filters={"tags": ["list"]})
    campaign = services.campaign_create(
        org=org,
        actor=owner,
        name="SMTP",
        segment=segment,
        subject="Hi {{ contact.first_name }}",
        body_text="Hello.",
    )
    with smtp_server(tmp_path / "mail", tempfail_times=1) as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.CAMPAIGN_RETRY_BACKOFF = 60
        services.campaign_schedule(org=org, campaign=campaign)
        services.campaign_start(campaign_id=campaign.pk)
        result = services.campaign_send_batch(campaign_id=campaign.pk)
        assert (result.sent, result.deferred, result.failed) == (2, 1, 1)

        deferred = Recipient.objects.get(campaign=campaign, email="tempfail@example.com")
        assert deferred.state == RecipientState.QUEUED
        assert deferred.attempts == 1
        assert deferred.last_error.startswith("RCPT TO: 451")
        assert deferred.next_attempt_at >= timezone.now() + timedelta(seconds=50)
        bounced = Recipient.objects.get(campaign=campaign, email="permfail@example.com")
        assert bounced.state == RecipientState.FAILED
        assert Suppression.objects.get(organization=org, email="permfail@example.com").reason == "bounced"

        # Not due yet: nothing is sent; once due, the retry is accepted (the sink refuses once).
        assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 0
        Recipient.objects.filter(pk=deferred.pk).update(next_attempt_at=timezone.now())
        assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 1

        received = sorted(str(m["To"]) for m in sink.parsed())
        assert received == ["ok1@example.com", "ok2@example.com", "tempfail@example.com"]
        message = next(m for m in sink.parsed() if str(m["To"]) == "ok1@example.com")
        assert message["Subject"] == "Hi ok1"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(message["List-Unsubscribe"]).strip().startswith("<https://crm.example.com/c/u/")
    stats = selectors.campaign_stats(org=org, campaign=campaign)
    assert (stats.sent, stats.failed, stats.queued) == (3, 1, 0)
    campaign.refresh_from_db()
    assert campaign.state == "sent"
