"""Who may subscribe to an organization's events, decided once per socket.

Two ways in: the browser's session cookie (only from an allowed Origin, since a
cookie is sent by any page that opens a socket), or a short-lived, single-use
ticket signed by the server and obtained over the REST API with a token, so API
tokens never appear in a URL. Each function here runs in a worker thread with
the database connection released afterwards; sockets hold none while idle.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.core import signing

from stratus.accounts.models import Membership, User

TICKET_SALT = "stratus.realtime.ticket"

# Close codes (4000-4999 are the application's own; see README, "Live updates").
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SUBSCRIBE_TIMEOUT = 4408
CLOSE_SERVER_ERROR = 1011


@dataclass(frozen=True)
class Subscription:
    user_id: int
    organization_id: int
    organization_slug: str
    role: str
    via: str  # "session" or "ticket"
    session_key: str = ""


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def issue_ticket(*, user_id: int, organization_id: int) -> str:
    payload = {"u": user_id, "o": organization_id, "n": secrets.token_urlsafe(12)}
    return signing.dumps(payload, salt=TICKET_SALT, compress=False)


def read_ticket(ticket: str) -> dict[str, Any]:
    """The ticket's payload, or Refused if it is forged, malformed or older than its lifetime."""
    try:
        payload = signing.loads(ticket, salt=TICKET_SALT, max_age=settings.REALTIME_TICKET_TTL_SECONDS)
    except signing.SignatureExpired as error:
        raise Refused(CLOSE_UNAUTHENTICATED, "ticket expired") from error
    except signing.BadSignature as error:
        raise Refused(CLOSE_UNAUTHENTICATED, "invalid ticket") from error
    if not isinstance(payload, dict) or not {"u", "o", "n"} <= payload.keys():
        raise Refused(CLOSE_UNAUTHENTICATED, "invalid ticket")
    return payload


def _membership(user: User, *, organization_id: int | None = None, slug: str | None = None) -> Membership:
    memberships = Membership.objects.select_related("organization").filter(user=user)
    if organization_id is not None:
        memberships = memberships.filter(organization_id=organization_id)
    if slug is not None:
        memberships = memberships.filter(organization__slug=slug)
    found = list(memberships[:2])
    if not found:
        raise Refused(CLOSE_FORBIDDEN, "not a member of this organization")
    if len(found) > 1:
        raise Refused(CLOSE_BAD_REQUEST, "organization is required: you belong to several")
    return found[0]


def _subscription(membership: Membership, via: str, session_key: str = "") -> Subscription:
    return Subscription(
        user_id=membership.user_id,
        organization_id=membership.organization_id,
        organization_slug=membership.organization.slug,
        role=membership.role,
        via=via,
        session_key=session_key,
    )


def authenticate_ticket(payload: dict[str, Any], organization_slug: str | None) -> Subscription:
    user = User.objects.filter(pk=payload["u"], is_active=True).first()
    if user is None:
        raise Refused(CLOSE_UNAUTHENTICATED, "invalid ticket")
    membership = _membership(user, organization_id=int(payload["o"]))
    if organization_slug is not None and organization_slug != membership.organization.slug:
        raise Refused(CLOSE_FORBIDDEN, "the ticket was issued for another organization")
    return _subscription(membership, "ticket")


def authenticate_session(session_key: str, organization_slug: str | None) -> Subscription:
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
    if not user.is_authenticated or not isinstance(user, User):
        raise Refused(CLOSE_UNAUTHENTICATED, "not signed in")
    membership = _membership(user, slug=organization_slug)
    return _subscription(membership, "session", session_key)


def still_allowed(subscription: Subscription) -> bool:
    """Re-checked periodically: membership removed, user deactivated or signed out end the socket."""
    if subscription.via == "session":
        engine = import_module(settings.SESSION_ENGINE)
        session = engine.SessionStore(subscription.session_key)
        user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
        if not user.is_authenticated or user.pk != subscription.user_id:
            return False
    return Membership.objects.filter(
        user_id=subscription.user_id,
        user__is_active=True,
        organization_id=subscription.organization_id,
    ).exists()


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same rule as Django's CSRF check: the page's origin is this host or a trusted origin."""
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == host
