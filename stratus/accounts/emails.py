"""Emails about accounts: invitations and sign-up confirmation.

Sent through Django's mail backend (``EMAIL_URL``, ``DEFAULT_FROM_EMAIL``), like reminder
emails, once the transaction that made the link has committed. The link's secret exists only
in the message (the database keeps its digest), so it is sent from the request rather than
queued: a message that cannot be sent is logged without the link, and the invitation can be
re-sent (a sign-up is simply submitted again).
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger("stratus.accounts")


def _send(*, to: str, subject: str, body: str, kind: str) -> None:
    def send() -> None:
        try:
            send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
        except (OSError, smtplib.SMTPException) as error:
            logger.warning("could not send the %s email: %s", kind, type(error).__name__)

    transaction.on_commit(send)


def invitation_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/invitations/{token}"


def signup_confirm_url(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/signup/confirm/{token}"


def send_invitation(
    *, to: str, organization_name: str, role: str, inviter: str, token: str, expires: str
) -> None:
    body = (
        f"{inviter} invited you to join {organization_name} on Stratus as {role}.\n\n"
        f"To accept, open this link (it works until {expires}):\n\n{invitation_url(token)}\n\n"
        "Nothing changes on your account unless you accept. If you did not expect this "
        "invitation, ignore this email.\n"
    )
    _send(to=to, subject=f"Invitation to join {organization_name} on Stratus", body=body, kind="invitation")


def send_signup_confirmation(*, to: str, organization_name: str, token: str, expires: str) -> None:
    body = (
        f"Someone (we hope you) asked to create a Stratus account for {to} with a new "
        f"organization, {organization_name}.\n\n"
        f"To confirm, open this link (it works until {expires}):\n\n{signup_confirm_url(token)}\n\n"
        "If it was not you, ignore this email: no account is created without this link.\n"
    )
    _send(to=to, subject="Confirm your Stratus account", body=body, kind="sign-up confirmation")


def send_signup_attempt_notice(*, to: str) -> None:
    body = (
        f"Someone asked to create a new Stratus account for {to}, but this address already "
        "has an account, so nothing was created.\n\n"
        f"If it was you, sign in with this address at {settings.PUBLIC_BASE_URL}/ instead "
        "(POST /api/v1/auth/login for API clients). If you have forgotten your password, the "
        "server's operator can set a new one (manage.py changepassword).\n\n"
        "If it was not you, you can ignore this email: your account is unchanged.\n"
    )
    _send(to=to, subject="Someone tried to sign up with your address", body=body, kind="sign-up notice")
