from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client as HttpClient

from stratus.accounts.models import Organization, User
from stratus.accounts.services import organization_create
from stratus.realtime.tests.harness import Server, asgi_server, realtime_env, unique_prefix


@dataclass
class Member:
    user: User
    organization: Organization
    cookie: str  # the session cookie header of a signed-in browser


@dataclass
class Realm:
    """Two organizations with one signed-in member each, sharing a fresh realtime prefix."""

    prefix: str
    alice: Member
    bob: Member
    log_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return realtime_env(self.prefix, **extra)


def sign_in(user: User) -> str:
    http = HttpClient()
    http.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={http.cookies[django_settings.SESSION_COOKIE_NAME].value}"


def _member(email: str, org_name: str) -> Member:
    user = User.objects.create_user(email, "a-long-password-1")
    organization = organization_create(name=org_name, owner=user)
    return Member(user=user, organization=organization, cookie=sign_in(user))


@pytest.fixture
def realm(transactional_db: None, settings: Any, tmp_path: Path) -> Realm:
    if not django_settings.REALTIME_REDIS_URL:
        pytest.fail("the live-update suites need Redis: set REDIS_URL (or REALTIME_REDIS_URL)")
    prefix = unique_prefix()
    # This process publishes like a web replica, so it shares the servers' prefix.
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [django_settings.REALTIME_REDIS_URL], "prefix": f"{prefix}:layer"},
        }
    }
    return Realm(
        prefix=prefix,
        alice=_member("alice@acme.example", "Acme"),
        bob=_member("bob@globex.example", "Globex"),
        log_dir=tmp_path,
    )


@pytest.fixture
def server(realm: Realm) -> Iterator[Server]:
    with asgi_server(realm.env(), realm.log_dir) as running:
        yield running
