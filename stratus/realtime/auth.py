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
from datetime import datetime
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.core import signing
from django.utils import timezone
from django.utils.http import is_same_domain

from stratus.accounts.models import ROLE_RANK, ApiToken, Membership, Role, User

TICKET_SALT = "stratus.realtime.ticket"

# Close codes (4000-4999 are the application's own; see docs/live-updates.md, "Close codes").
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SUBSCRIBE_TIMEOUT = 4408
CLOSE_SERVER_ERROR = 1011

ACCESS_ENDED = "no longer a member of this organization"


@dataclass(frozen=True)
class Subscription:
    user_id: int
    organization_id: int
    organization_slug: str
    role: str
    via: str  # "session" or "ticket"
    session_key: str = ""
    token_id: str | None = None
    token_expires_at: datetime | None = None  # the socket re-checks when its token expires


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def issue_ticket(*, user_id: int, organization_id: int, token_id: str | None = None) -> str:
    """A ticket for the user in the organization; ``token_id`` when it was obtained with an API token."""
    payload: dict[str, Any] = {"u": user_id, "o": organization_id, "n": secrets.token_urlsafe(12)}
    if token_id is not None:
        payload["k"] = token_id
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


def _subscription(
    membership: Membership, via: str, *, session_key: str = "", token: ApiToken | None = None
) -> Subscription:
    role = membership.role
    if token is not None:
        role = min(Role(role), Role(token.role), key=lambda r: ROLE_RANK[r])  # a token caps its creator
    return Subscription(
        user_id=membership.user_id,
        organization_id=membership.organization_id,
        organization_slug=membership.organization.slug,
        role=role,
        via=via,
        session_key=session_key,
        token_id=str(token.pk) if token is not None else None,
        token_expires_at=token.expires_at if token is not None else None,
    )


def _usable_token(token_id: str, organization_id: int) -> ApiToken | None:
    token = ApiToken.objects.filter(pk=token_id, organization_id=organization_id).first()
    return token if token is not None and token.is_usable(timezone.now()) else None


def authenticate_ticket(payload: dict[str, Any], organization_slug: str | None) -> Subscription:
    user = User.objects.filter(pk=payload["u"], is_active=True).first()
    if user is None:
        raise Refused(CLOSE_UNAUTHENTICATED, "invalid ticket")
    membership = _membership(user, organization_id=int(payload["o"]))
    if organization_slug is not None and organization_slug != membership.organization.slug:
        raise Refused(CLOSE_FORBIDDEN, "the ticket was issued for another organization")
    token = None
    if "k" in payload:
        token = _usable_token(str(payload["k"]), membership.organization_id)
        if token is None:
            raise Refused(CLOSE_UNAUTHENTICATED, "the API token of this ticket was revoked or expired")
    return _subscription(membership, "ticket", token=token)


def authenticate_session(session_key: str, organization_slug: str | None) -> Subscription:
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
    if not user.is_authenticated or not isinstance(user, User):
        raise Refused(CLOSE_UNAUTHENTICATED, "not signed in")
    if organization_slug is None and user.default_organization_id is not None:
        # As on the REST API: a session that names no organization acts in the user's default.
        membership = _membership(user, organization_id=user.default_organization_id)
    else:
        membership = _membership(user, slug=organization_slug)
    return _subscription(membership, "session", session_key=session_key)


def recheck(subscription: Subscription) -> Subscription:
    """The socket's access now: its subscription with the current role, or Refused.

    Run on an access notice (a token, membership or user changed, a session ended), when the
    socket's token expires and every ``REALTIME_REAUTH_SECONDS``. 4401 when the credential no
    longer authenticates (deactivated user, revoked or expired token, ended session), 4403 when
    the user is no longer a member of the organization.
    """
    membership = (
        Membership.objects.select_related("organization", "user")
        .filter(user_id=subscription.user_id, organization_id=subscription.organization_id)
        .first()
    )
    if membership is None:
        raise Refused(CLOSE_FORBIDDEN, ACCESS_ENDED)
    if not membership.user.is_active:
        raise Refused(CLOSE_UNAUTHENTICATED, "the account was deactivated")
    token = None
    if subscription.token_id is not None:
        token = _usable_token(subscription.token_id, subscription.organization_id)
        if token is None:
            raise Refused(CLOSE_UNAUTHENTICATED, "the API token was revoked or expired")
    if subscription.via == "session":
        engine = import_module(settings.SESSION_ENGINE)
        session = engine.SessionStore(subscription.session_key)
        user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
        if not user.is_authenticated or user.pk != subscription.user_id:
            raise Refused(CLOSE_UNAUTHENTICATED, "signed out")
    return _subscription(membership, subscription.via, session_key=subscription.session_key, token=token)


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Django's CSRF rule: the page's origin is this host, or matches ``CSRF_TRUSTED_ORIGINS``
    (exactly, or ``scheme://*.domain`` for subdomains)."""
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    if host and parts.netloc == host:
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        scheme, _, netloc = trusted.partition("://")
        if netloc.startswith("*") and scheme == parts.scheme and is_same_domain(parts.netloc, netloc[1:]):
            return True
    return False
