"""Small builders for CRM tests: real rows through the real services where it matters."""

from __future__ import annotations

import itertools

from stratus.accounts.models import Organization, Role, User
from stratus.accounts.services import membership_set, organization_create

_counter = itertools.count(1)


def make_user(email: str | None = None) -> User:
    return User.objects.create_user(email or f"user{next(_counter)}@example.com", None)


def make_org(name: str | None = None, owner: User | None = None) -> Organization:
    return organization_create(name=name or f"Org {next(_counter)}", owner=owner or make_user())


def make_member(org: Organization, role: Role = Role.MEMBER) -> User:
    user = make_user()
    membership_set(org=org, user=user, role=role)
    return user
