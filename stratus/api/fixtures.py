"""pytest fixtures for API tests of every app (registered in the root conftest).

``api_client(role=..., organization=...)`` returns a DRF test client authenticated with a
fresh API token of that role in that organization (a member with that role is created).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.accounts.services import organization_create, token_create

_sequence = itertools.count(1)


def make_user(prefix: str = "user") -> User:
    return User.objects.create_user(f"{prefix}{next(_sequence)}@example.com")  # no password: no hashing cost


def make_organization(name: str = "Org") -> Organization:
    return organization_create(name=f"{name} {next(_sequence)}", owner=make_user("owner"))


def make_member(organization: Organization, role: str) -> Membership:
    return Membership.objects.create(organization=organization, user=make_user(role), role=role)


def make_member_who_signs_in(organization: Organization, role: str, password: str) -> User:
    """A member with a password, for tests that sign in through a form (this one pays for hashing)."""
    user = make_member(organization, role).user
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def token_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def make_token(organization: Organization, role: str = Role.OWNER) -> str:
    membership = make_member(organization, role)
    issued = token_create(org=organization, actor=membership.user, name=f"test {role}", role=role)
    return issued.secret


@pytest.fixture
def organization(db: Any) -> Organization:
    return make_organization("Acme")


@pytest.fixture
def other_organization(db: Any) -> Organization:
    return make_organization("Rival")


@pytest.fixture
def api_client(organization: Organization) -> Callable[..., APIClient]:
    def build(role: str = Role.OWNER, org: Organization | None = None) -> APIClient:
        return token_client(make_token(org or organization, role))

    return build
