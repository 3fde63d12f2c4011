"""Who is calling and for which organization.

Two ways in: ``Authorization: Bearer <token>`` (integrations) and the browser session
(CSRF enforced on writes). Both resolve the organization of the request and expose it as
``request.organization`` and ``request.membership`` (whose ``role`` is the effective role:
a token's role caps its creator's), and as ``request.auth`` (an :class:`Access`).

A Bearer token's row (with its organization, creator and the creator's membership) is kept in
the cache (Redis) for ``API_TOKEN_CACHE_SECONDS``, so an API request costs no query to
authenticate. Revoking a token, changing or removing a membership, deactivating a user and
renaming an organization drop the affected entries (see :func:`forget_tokens` and
``stratus.api.signals``); expiry is checked on every request against the cached row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request

from stratus.accounts.models import ApiToken, Membership, Organization, Role, User
from stratus.accounts.roles import lower_role
from stratus.accounts.tokens import hash_token_secret

TOKEN_SCHEME = "Bearer"
ORGANIZATION_HEADER = "X-Organization"


class OrganizationRequired(exceptions.APIException):
    status_code = 400
    default_detail = "Name the organization with the X-Organization header."
    default_code = "organization_required"


@dataclass(frozen=True)
class Access:
    """``request.auth`` for API requests: the organization the caller acts in, and how."""

    organization: Organization | None
    membership: Membership | None
    token: ApiToken | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.membership.role) if self.membership else None


def _bind(request: HttpRequest | Request, access: Access) -> None:
    raw = request._request if isinstance(request, Request) else request
    raw.organization = access.organization  # type: ignore[attr-defined]
    raw.membership = access.membership  # type: ignore[attr-defined]


def _token_from_header(request: HttpRequest) -> str | None:
    """The secret of a Bearer header; None if another scheme (or none) is used."""
    parts = get_authorization_header(request).split()  # type: ignore[arg-type]
    if not parts or parts[0].lower() != TOKEN_SCHEME.lower().encode():
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("Malformed token.") from None


TOKEN_CACHE_PREFIX = "api-token:"
TOKEN_CHANGED_PREFIX = "api-token-changed:"
TOKEN_CHANGED_SECONDS = 10


def _token_cache_key(key_hash: str) -> str:
    return TOKEN_CACHE_PREFIX + key_hash


def _load_token(key_hash: str) -> ApiToken | None:
    """The token with its organization, creator and the creator's membership (id and role), or None."""
    ttl = settings.API_TOKEN_CACHE_SECONDS
    if ttl:
        cached = cache.get(_token_cache_key(key_hash))
        if cached is not None:
            return cached
    members = Membership.objects.filter(
        organization=OuterRef("organization_id"), user=OuterRef("created_by_id")
    )
    token = (
        ApiToken.objects.select_related("organization", "created_by")
        .defer("created_by__password")  # the cached copy holds no password hash
        .annotate(
            member_id=Subquery(members.values("id")[:1]),
            member_role=Subquery(members.values("role")[:1]),
        )
        .filter(key_hash=key_hash)
        .first()
    )
    if token is not None:
        _remember(key_hash, token)
    return token


def _remember(key_hash: str, token: ApiToken) -> None:
    # A token whose rows are being changed is not cached: this read may predate the change.
    ttl = settings.API_TOKEN_CACHE_SECONDS
    if ttl and cache.get(TOKEN_CHANGED_PREFIX + key_hash) is None:
        cache.set(_token_cache_key(key_hash), token, timeout=ttl)


def forget_tokens(tokens: QuerySet[ApiToken] | list[str]) -> None:
    """Drop cached tokens (a queryset, or key hashes) now and again when the transaction commits.

    Until a few seconds after the change, the tokens are not cached again: a request may have
    read the rows just before the change committed.
    """
    hashes = tokens if isinstance(tokens, list) else list(tokens.values_list("key_hash", flat=True))
    if not hashes or not settings.API_TOKEN_CACHE_SECONDS:
        return
    keys = [_token_cache_key(h) for h in hashes]

    def forget() -> None:
        cache.set_many(dict.fromkeys((TOKEN_CHANGED_PREFIX + h for h in hashes), 1), TOKEN_CHANGED_SECONDS)
        cache.delete_many(keys)

    forget()
    transaction.on_commit(forget)


def token_access(request: HttpRequest, *, touch: bool) -> tuple[User, Access] | None:
    """Resolve a Bearer token (cached, else one query); ``touch`` refreshes its last-used time
    at most once per ``API_TOKEN_LAST_USED_PRECISION_SECONDS``."""
    secret = _token_from_header(request)
    if secret is None:
        return None
    key_hash = hash_token_secret(secret)
    token = _load_token(key_hash)
    now = timezone.now()
    if token is None or not token.is_usable(now) or not token.created_by.is_active:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
    if token.member_id is None:  # type: ignore[attr-defined]
        raise exceptions.AuthenticationFailed("The member who created this token left the organization.")
    slug = request.headers.get(ORGANIZATION_HEADER)
    if slug and slug != token.organization.slug:
        raise OrganizationRequired(
            f"This token belongs to organization '{token.organization.slug}', not '{slug}'.",
            code="organization_mismatch",
        )
    membership = Membership(
        id=token.member_id,  # type: ignore[attr-defined]
        user=token.created_by,
        organization=token.organization,
        role=lower_role(token.role, token.member_role),  # type: ignore[attr-defined]
    )
    if touch:
        stale = now - timedelta(seconds=settings.API_TOKEN_LAST_USED_PRECISION_SECONDS)
        if token.last_used_at is None or token.last_used_at < stale:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
            _remember(key_hash, token)
    return token.created_by, Access(organization=token.organization, membership=membership, token=token)


def session_access(request: HttpRequest, user: User) -> Access:
    """The organization a session acts in: the X-Organization header, else the user's default
    organization, else (no default set yet) their oldest membership."""
    slug = request.headers.get(ORGANIZATION_HEADER)
    memberships = Membership.objects.select_related("organization").filter(user=user)
    if slug:
        membership = memberships.filter(organization__slug=slug).first()
        if membership is None:
            raise exceptions.PermissionDenied(f"You are not a member of an organization '{slug}'.")
        return Access(organization=membership.organization, membership=membership)
    membership = None
    if user.default_organization_id is not None:
        membership = memberships.filter(organization_id=user.default_organization_id).first()
    if membership is None:
        membership = memberships.order_by("created_at", "id").first()
    if membership is None:
        return Access(organization=None, membership=None)
    return Access(organization=membership.organization, membership=membership)


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, Access] | None:
        result = token_access(request._request, touch=True)
        if result is not None:
            _bind(request, result[1])
        return result

    def authenticate_header(self, request: Request) -> str:
        return f'{TOKEN_SCHEME} realm="api"'


class OrganizationSessionAuthentication(SessionAuthentication):
    """Django's session (CSRF enforced on unsafe methods) plus the organization header."""

    def authenticate(self, request: Request) -> tuple[Any, Access] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        access = session_access(request._request, user)
        _bind(request, access)
        return user, access


def request_access(request: HttpRequest) -> Access | None:
    """Resolve the organization outside DRF (middleware); None when it cannot be resolved."""
    try:
        token = token_access(request, touch=False)
        if token is not None:
            return token[1]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return session_access(request, user)
    except exceptions.APIException:
        return None
    return None
