"""Which account changes announce an access notice to open sockets (after commit only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import ApiToken, Membership, Organization, Role
from stratus.accounts.services import token_create
from stratus.realtime.store import get_store
from stratus.realtime.tests.harness import unique_prefix
from stratus.realtime.tests.test_store import redis_url
from testsupport.factories import make_member


@pytest.fixture(autouse=True)
def redis_log(settings: Any) -> Iterator[None]:
    """The event log on the suite's Redis, under a prefix of its own (removed afterwards)."""
    settings.REALTIME_REDIS_URL = redis_url()
    settings.REALTIME_PREFIX = unique_prefix()
    yield
    client = redis.Redis.from_url(redis_url())
    keys = list(client.scan_iter(f"{settings.REALTIME_PREFIX}:*"))
    if keys:
        client.delete(*keys)


def _notices(organization: Organization, change: Callable[[], object], capture: Any) -> int:
    """How many entries ``change`` added to the organization's event log once committed."""
    before = asyncio.run(get_store().current(organization.pk))
    with capture(execute=True):
        change()
    return asyncio.run(get_store().current(organization.pk)) - before


def test_bookkeeping_saves_and_new_grants_announce_nothing(
    organization: Organization, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    member = make_member(organization, Role.ADMIN)
    user = member.user

    def bookkeeping() -> None:
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])  # what signing in saves
        issued = token_create(org=organization, actor=user, name="ci", role=Role.MEMBER)
        issued.token.last_used_at = timezone.now()
        issued.token.save(update_fields=["last_used_at"])
        make_member(organization, Role.VIEWER)  # a new user and membership take nothing away

    assert _notices(organization, bookkeeping, django_capture_on_commit_callbacks) == 0


def test_access_changes_announce_one_notice_per_organization_after_commit(
    organization: Organization,
    other_organization: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    member = make_member(organization, Role.MEMBER)
    Membership.objects.create(organization=other_organization, user=member.user, role=Role.VIEWER)
    user = member.user
    token = token_create(org=organization, actor=user, name="ci", role=Role.MEMBER).token

    def deactivate() -> None:
        user.is_active = False
        user.save()

    assert _notices(organization, deactivate, django_capture_on_commit_callbacks) == 1
    assert _notices(other_organization, deactivate, django_capture_on_commit_callbacks) == 1

    def change_role() -> None:
        member.role = Role.VIEWER
        member.save(update_fields=["role"])

    assert _notices(organization, change_role, django_capture_on_commit_callbacks) == 1
    delete_token = ApiToken.objects.get(pk=token.pk).delete
    assert _notices(organization, delete_token, django_capture_on_commit_callbacks) == 1
    assert _notices(organization, member.delete, django_capture_on_commit_callbacks) == 1

    # A change rolled back announces nothing.
    class Rollback(Exception):
        pass

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                Membership.objects.get(organization=other_organization, user=user).delete()
                raise Rollback
        except Rollback:
            pass

    assert _notices(other_organization, rolled_back, django_capture_on_commit_callbacks) == 0
