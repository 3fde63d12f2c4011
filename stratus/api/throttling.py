"""Rate limits per credential (token or session user), per organization and per client address.

Fixed one-minute windows counted with an atomic increment in the cache, which is Redis in
every deployment (the embedded default counts in process memory). Fails open: when Redis
cannot be reached the request is served, because an outage of the limiter must not become
an outage of the API (Nginx limits remain in front).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from stratus.api.authentication import Access
from stratus.platform.client_address import client_address, limit_key

logger = logging.getLogger("stratus.api")

WINDOW_SECONDS = 60


def count_hit(key: str) -> int | None:
    """Increment the counter of ``key`` in the current window; None if the cache is unavailable."""
    try:
        return int(cache.incr(key))
    except ValueError:
        pass  # no counter yet in this window (or the cache is down)
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
        return 1
    try:
        return int(cache.incr(key))  # another request created it first
    except ValueError:
        return None


class WindowRateThrottle(BaseThrottle):
    scope = ""
    setting = ""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def subject(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = int(getattr(settings, self.setting))
        subject = self.subject(request)
        if limit <= 0 or subject is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        count = count_hit(f"ratelimit:{self.scope}:{subject}:{window}")
        if count is None:
            return True
        if count > limit:
            self.retry_after = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after


class CredentialRateThrottle(WindowRateThrottle):
    """Per API token, or per user for session requests."""

    scope = "credential"
    setting = "API_RATE_LIMIT_TOKEN"

    def subject(self, request: Request) -> str | None:
        access = request.auth
        if isinstance(access, Access) and access.token is not None:
            return f"token:{access.token.pk}"
        if request.user and request.user.is_authenticated:
            self.setting = "API_RATE_LIMIT_USER"
            return f"user:{request.user.pk}"
        return None


class OrganizationRateThrottle(WindowRateThrottle):
    scope = "organization"
    setting = "API_RATE_LIMIT_ORGANIZATION"

    def subject(self, request: Request) -> str | None:
        access = request.auth
        if isinstance(access, Access) and access.organization is not None:
            return str(access.organization.pk)
        return None


class AnonymousRateThrottle(WindowRateThrottle):
    """Per client address (behind TRUSTED_PROXIES; IPv6 by /64), for the endpoints that work
    without credentials (sign-up, login)."""

    scope = "anonymous"
    setting = "API_RATE_LIMIT_ANONYMOUS"

    def subject(self, request: Request) -> str | None:
        return limit_key(client_address(request))
