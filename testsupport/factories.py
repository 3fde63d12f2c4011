"""Builders for tests: users, organizations, members, API tokens and the clients that use them.

Users get no password (no hashing cost) unless the test signs in through a form
(``make_member_who_signs_in``).
"""

from __future__ import annotations

import itertools

from rest_framework.test import APIClient

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.accounts.services import organization_create, token_create

_sequence = itertools.count(1)


def make_user(prefix: str = "user") -> User:
    return User.objects.create_user(f"{prefix}{next(_sequence)}@example.com")


def make_organization(name: str = "Org", owner: User | None = None) -> Organization:
    """A new organization (through the real service) with its owner."""
    return organization_create(name=f"{name} {next(_sequence)}", owner=owner or make_user("owner"))


def make_member(organization: Organization, role: str = Role.MEMBER) -> Membership:
    """A new user who is a member of ``organization`` with ``role``; ``.user`` is the person."""
    return Membership.objects.create(organization=organization, user=make_user(str(role)), role=role)


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
    """The secret of a new API token of ``role``, issued by a new member of that role."""
    membership = make_member(organization, role)
    issued = token_create(org=organization, actor=membership.user, name=f"test {role}", role=role)
    return issued.secret
