"""Failed-login lockout: exponential backoff per (account, client), softened per account.

Design (why it slows an attacker but cannot keep the real user out):

- Failures are counted per (account, client address) pair. A pair gets
  LOGIN_LOCKOUT_FREE_FAILURES tries; after that each further try waits
  base * 2^(failures - free) seconds after the last one, capped at LOGIN_LOCKOUT_MAX_SECONDS.
  An attacker's address ends up at one guess per cap per account.
- The account's own total is a softer signal: when it reaches LOGIN_LOCKOUT_ACCOUNT_THRESHOLD
  (an attack from many addresses), every pair of that account gets a single free try before
  the backoff starts, so a botnet gets one guess per address instead of five.
- A client that has not failed on the account is never refused: its first try is always
  checked. So no amount of failures from other addresses locks the owner out; at worst the
  owner's own mistakes (or an attacker behind the same address, e.g. one NAT) make them wait
  at most the cap.
- The answer is the same for every e-mail, registered or not (counters are kept for any
  e-mail), and a refused try is not checked against the password at all.
- A success clears its pair. Counters are forgotten LOGIN_LOCKOUT_WINDOW_SECONDS after their
  last failure.

Counted in Redis (the cache) when REDIS_URL is set, otherwise in the database (the embedded
default). Like the other rate limits, a Redis outage fails open (Nginx's limit stays in front).
Keys are digests of the e-mail (and address): no address or e-mail is stored in clear.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from rest_framework.exceptions import Throttled

from stratus.accounts.models import User
from stratus.lockout.models import LoginFailureCounter
from stratus.platform.client_address import client_address, limit_key

LOCKED_DETAIL = (
    "Too many failed log-ins for this account from this address; "
    "retry after the number of seconds in Retry-After."
)


class CounterStore(Protocol):
    def begin(self, key: str, now: float) -> tuple[int, float | None] | None: ...
    def undo(self, key: str) -> None: ...
    def mark(self, key: str, now: float) -> None: ...
    def count(self, key: str) -> int: ...
    def increment(self, key: str, now: float) -> None: ...
    def clear(self, key: str) -> None: ...


def _window() -> int:
    return int(settings.LOGIN_LOCKOUT_WINDOW_SECONDS)


class CacheCounterStore:
    """Atomic counters in the cache (Redis): parallel tries cannot share one free slot."""

    def _incr(self, key: str) -> int | None:
        for _ in range(2):
            try:
                value = int(cache.incr(key))
                cache.touch(key, _window())
                return value
            except ValueError:
                if cache.add(key, 1, timeout=_window()):
                    return 1
        return None  # the cache is unavailable

    def begin(self, key: str, now: float) -> tuple[int, float | None] | None:
        attempts = self._incr(f"lockout:n:{key}")
        if attempts is None:
            return None
        last = cache.get(f"lockout:at:{key}")
        return attempts - 1, float(last) if last is not None else None

    def undo(self, key: str) -> None:
        with contextlib.suppress(ValueError):
            cache.decr(f"lockout:n:{key}")

    def mark(self, key: str, now: float) -> None:
        cache.set(f"lockout:at:{key}", now, timeout=_window())

    def count(self, key: str) -> int:
        return int(cache.get(f"lockout:n:{key}") or 0)

    def increment(self, key: str, now: float) -> None:
        self._incr(f"lockout:n:{key}")

    def clear(self, key: str) -> None:
        cache.delete_many([f"lockout:n:{key}", f"lockout:at:{key}"])


class DatabaseCounterStore:
    """The same counters as rows (the embedded default has no shared cache)."""

    def _row(self, key: str, now: float) -> LoginFailureCounter:
        expires = datetime.fromtimestamp(now + _window(), tz=UTC)
        row, created = LoginFailureCounter.objects.select_for_update().get_or_create(
            key=key, defaults={"expires_at": expires}
        )
        if created:
            LoginFailureCounter.objects.filter(expires_at__lt=datetime.fromtimestamp(now, tz=UTC)).delete()
        elif row.expires_at.timestamp() < now:
            row.failures, row.last_failure_at = 0, None
        row.expires_at = expires
        return row

    def begin(self, key: str, now: float) -> tuple[int, float | None] | None:
        with transaction.atomic():
            row = self._row(key, now)
            prior, last = row.failures, row.last_failure_at
            row.failures += 1
            row.save()
        return prior, last

    def undo(self, key: str) -> None:
        with transaction.atomic():
            row = LoginFailureCounter.objects.select_for_update().filter(key=key).first()
            if row is not None and row.failures > 0:
                row.failures -= 1
                row.save(update_fields=["failures"])

    def mark(self, key: str, now: float) -> None:
        LoginFailureCounter.objects.filter(key=key).update(last_failure_at=now)

    def count(self, key: str) -> int:
        now = datetime.fromtimestamp(time.time(), tz=UTC)
        row = LoginFailureCounter.objects.filter(key=key, expires_at__gte=now).first()
        return row.failures if row else 0

    def increment(self, key: str, now: float) -> None:
        with transaction.atomic():
            row = self._row(key, now)
            row.failures += 1
            row.save()

    def clear(self, key: str) -> None:
        LoginFailureCounter.objects.filter(key=key).delete()


def counter_store() -> CounterStore:
    return CacheCounterStore() if settings.REDIS_URL else DatabaseCounterStore()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def backoff_seconds(*, failures: int, free: int) -> float:
    """Seconds a pair waits after its last failure, having failed `failures` times."""
    if failures < free:
        return 0.0
    base = float(settings.LOGIN_LOCKOUT_BASE_SECONDS)
    cap = float(settings.LOGIN_LOCKOUT_MAX_SECONDS)
    return float(min(cap, base * 2 ** min(failures - free, 40)))


@dataclass(frozen=True)
class LoginAttempt:
    account_key: str
    pair_key: str
    counted: bool  # False when the counters were unavailable (fail open)


def login_attempt_begin(*, email: str, client: str, now: float | None = None) -> LoginAttempt:
    """Admit a log-in try for `email` from `client`, or raise Throttled (429 with Retry-After).

    Call before checking the password; then login_attempt_failed or login_attempt_succeeded.
    """
    now = time.time() if now is None else now
    account = email.strip().lower()
    attempt = LoginAttempt(
        account_key=_digest("account", account),
        pair_key=_digest("pair", account, limit_key(client)),
        counted=True,
    )
    store = counter_store()
    free = int(settings.LOGIN_LOCKOUT_FREE_FAILURES)
    if store.count(attempt.account_key) >= int(settings.LOGIN_LOCKOUT_ACCOUNT_THRESHOLD):
        free = min(free, 1)
    begun = store.begin(attempt.pair_key, now)
    if begun is None:
        return LoginAttempt(attempt.account_key, attempt.pair_key, counted=False)
    prior, last = begun
    wait = backoff_seconds(failures=prior, free=free)
    # A try in flight in parallel has not marked its time yet: count it as just now.
    ready_at = (last if last is not None else now) + wait
    if wait > 0 and now < ready_at:
        store.undo(attempt.pair_key)
        raise Throttled(wait=ready_at - now, detail=LOCKED_DETAIL)
    store.mark(attempt.pair_key, now)
    return attempt


def login_attempt_failed(*, attempt: LoginAttempt, now: float | None = None) -> None:
    if attempt.counted:
        counter_store().increment(attempt.account_key, time.time() if now is None else now)


def login_attempt_succeeded(*, attempt: LoginAttempt) -> None:
    if attempt.counted:
        counter_store().clear(attempt.pair_key)


def authenticate_with_lockout(*, request: HttpRequest, email: str, password: str) -> User | None:
    """The one password check of every log-in path (API, browser, admin): counted by the lockout.

    Raises Throttled (429 with Retry-After) while this account and address must wait; returns the
    user, or None for a wrong e-mail or password (the same for an unknown e-mail).
    """
    attempt = login_attempt_begin(email=email, client=client_address(request))
    user = authenticate(request, email=email.strip().lower(), password=password)
    if user is None:
        login_attempt_failed(attempt=attempt)
        return None
    login_attempt_succeeded(attempt=attempt)
    return user
