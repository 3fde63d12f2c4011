"""The MIME message one recipient gets: merge fields, the unsubscribe link and header, and
open and click tracking."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from stratus.accounts.models import Organization
from stratus.campaigns import templating, tokens
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import Campaign, Recipient
from stratus.campaigns.selectors import segment_contacts
from stratus.crm.models import Contact
from stratus.platform.errors import Invalid

OPEN_PIXEL = '<img src="{url}" width="1" height="1" alt="" style="display:none">'


def _merge_values(campaign: Campaign, recipient: Recipient) -> dict[str, str]:
    contact = recipient.contact
    values: dict[str, str] = {
        "sender.name": campaign.from_name or "",
        "sender.email": campaign.from_email or "",
        "organization.name": campaign.organization.name,
        "unsubscribe_url": tokens.unsubscribe_url(recipient.pk),
        "contact.email": recipient.email,
    }
    if contact is not None:
        values.update(
            {
                "contact.first_name": contact.first_name,
                "contact.last_name": contact.last_name,
                "contact.full_name": contact.full_name,
                "contact.job_title": contact.job_title,
                "contact.phone": str(contact.phones[0]) if contact.phones else "",
            }
        )
        for key, value in (contact.custom_fields or {}).items():
            values[f"contact.custom.{key}"] = "" if value is None else str(value)
        company = contact.company
        if company is not None:
            values.update(
                {
                    "company.name": company.name,
                    "company.domain": company.domain,
                    "company.website": company.website,
                }
            )
    return values


def build_message(campaign: Campaign, recipient: Recipient) -> EmailMultiAlternatives:
    values = _merge_values(campaign, recipient)
    unsubscribe = values["unsubscribe_url"]
    subject = " ".join(templating.render(campaign.subject, values, escape=False).split())
    text_source = campaign.body_text or templating.html_to_text(campaign.body_html)
    text = templating.render(text_source, values, escape=False)
    if "unsubscribe_url" not in text_source:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"
    html_body = ""
    if campaign.body_html:
        html_body = templating.render(campaign.body_html, values, escape=True)
        if "unsubscribe_url" not in campaign.body_html:
            html_body += f'<p style="font-size:12px;color:#666"><a href="{unsubscribe}">Unsubscribe</a></p>'
        if campaign.track_clicks:
            html_body = templating.rewrite_links(
                html_body,
                lambda url: url if url == unsubscribe else tokens.click_url(recipient.pk, url),
            )
        if campaign.track_opens:
            pixel = OPEN_PIXEL.format(url=tokens.open_url(recipient.pk))
            closing = html_body.lower().rfind("</body>")
            html_body = (
                html_body[:closing] + pixel + html_body[closing:] if closing >= 0 else html_body + pixel
            )
    host = urlsplit(settings.PUBLIC_BASE_URL).hostname or "stratus.invalid"
    sender = (
        formataddr((campaign.from_name, campaign.from_email))
        if campaign.from_email
        else settings.DEFAULT_FROM_EMAIL
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=[recipient.email],
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        headers={
            "Message-ID": f"<campaign-{campaign.pk}.recipient-{recipient.pk}@{host}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"campaign-{campaign.pk}.{host}",
            "Precedence": "bulk",
        },
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    return message


@dataclass(frozen=True)
class RenderedPreview:
    subject: str
    text: str
    html: str
    to: str


def campaign_preview(
    *, org: Organization, campaign: Campaign, contact: Contact | None = None
) -> RenderedPreview:
    """The message ``contact`` (by default the segment's first contact) would receive; links
    are not live: the recipient does not exist."""
    if contact is None and campaign.segment is not None:
        contact = segment_contacts(org=org, filters=campaign.segment.filters).first()
    if contact is None:
        raise Invalid(
            "Choose a contact to preview with.",
            field_errors={"contact": ["This field is required."]},
            code=CampaignCode.CONTACT_REQUIRED,
        )
    preview = Recipient(
        pk=0, organization=org, campaign=campaign, contact=contact, email=contact.email or "no-email@invalid"
    )
    message = build_message(campaign, preview)
    html = next((body for body, kind in message.alternatives if kind == "text/html"), "")
    return RenderedPreview(
        subject=str(message.subject), text=str(message.body), html=str(html), to=preview.email
    )
