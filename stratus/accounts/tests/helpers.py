"""Helpers for accounts tests: emailed links, session clients, a snapshot of role-bearing rows."""

from __future__ import annotations

import json
import re

from django.core import mail
from rest_framework.test import APIClient

from stratus.accounts.models import ApiToken, Invitation, Membership, User

PASSWORD = "a-long-enough-password"


def link_token(kind: str, to: str) -> str:
    """The token of the last ``kind`` link ("invitations" or "signup/confirm") emailed to ``to``."""
    for message in reversed(mail.outbox):
        if to in message.to:
            found = re.search(rf"/{kind}/(\S+)", str(message.body))
            if found:
                return found.group(1)
    raise AssertionError(f"no {kind} link was emailed to {to}: {[m.to for m in mail.outbox]}")


def session_client(user: User, *, csrf: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def user_with_password(email: str) -> User:
    return User.objects.create_user(email, PASSWORD)


def grants_snapshot() -> str:
    """Every row that gives someone a role (memberships, invitations, tokens) and the outbox."""
    rows = {
        "memberships": list(Membership.objects.order_by("pk").values()),
        "invitations": list(Invitation.objects.order_by("pk").values()),
        "tokens": list(ApiToken.objects.order_by("pk").values("pk", "role", "revoked_at")),
        "outbox": [(m.to, m.subject) for m in mail.outbox],
    }
    return json.dumps(rows, sort_keys=True, default=str)
