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
from stratus.realtime.tests.harness import (
    Server,
    asgi_server,
    realtime_env,
    suite_database_url,
    unique_prefix,
)


@dataclass
class Member:
    user: User
    organization: Organization
    cookie: str  # the session cookie header of a signed-in browser


@dataclass
class Replicas:
    """Two ws processes shared by the suite (starting one costs seconds on a busy machine).

    They run without a connection pool and tag their database connections with
    ``application_name``, so a test can count the connections they hold.
    """

    prefix: str
    application_name: str
    a: Server
    b: Server
    log_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return replica_env(self.prefix, self.application_name, **extra)


def replica_env(prefix: str, application_name: str, **extra: str) -> dict[str, str]:
    return realtime_env(
        prefix,
        DATABASE_URL=suite_database_url(application_name=application_name),
        DB_POOL="false",
        **extra,
    )


@dataclass
class Realm:
    """Two organizations with one signed-in member each; new organizations, so new sequences."""

    replicas: Replicas
    alice: Member
    bob: Member

    @property
    def prefix(self) -> str:
        return self.replicas.prefix

    @property
    def log_dir(self) -> Path:
        return self.replicas.log_dir

    def env(self, **extra: str) -> dict[str, str]:
        return self.replicas.env(**extra)


def sign_in(user: User) -> str:
    http = HttpClient()
    http.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={http.cookies[django_settings.SESSION_COOKIE_NAME].value}"


def _member(email: str, org_name: str) -> Member:
    user = User.objects.create_user(email, "a-long-password-1")
    organization = organization_create(name=org_name, owner=user)
    return Member(user=user, organization=organization, cookie=sign_in(user))


@pytest.fixture(scope="session")
def replicas(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    if not django_settings.REALTIME_REDIS_URL:
        pytest.fail("the live-update suites need Redis: set REDIS_URL (or REALTIME_REDIS_URL)")
    prefix = unique_prefix()
    log_dir = tmp_path_factory.mktemp("replicas")
    application_name = f"stratus-ws-{prefix}"
    env = replica_env(prefix, application_name)
    with asgi_server(env, log_dir) as a, asgi_server(env, log_dir) as b:
        yield Replicas(prefix, application_name, a, b, log_dir)


@pytest.fixture
def realm(transactional_db: None, settings: Any, replicas: Replicas) -> Realm:
    prefix = replicas.prefix
    # This process publishes like a web replica, so it shares the servers' prefix.
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [django_settings.REALTIME_REDIS_URL], "prefix": f"{prefix}:layer"},
        }
    }
    return Realm(
        replicas=replicas,
        alice=_member("alice@acme.example", "Acme"),
        bob=_member("bob@globex.example", "Globex"),
    )


@pytest.fixture
def server(realm: Realm) -> Server:
    return realm.replicas.a
