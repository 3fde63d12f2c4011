"""Account selectors read inside one organization."""

from __future__ import annotations

import pytest

from stratus.accounts import selectors
from stratus.accounts.models import Membership
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db


def test_member_users_names_only_the_organization_s_members() -> None:
    org, other = make_organization(), make_organization()
    member = make_member(org).user
    stranger = make_member(other).user
    assert set(selectors.member_users(org=org, ids=[member.pk, stranger.pk, stranger.pk + 1000])) == {member}


def test_user_memberships_are_ordered_by_organization_name_then_id() -> None:
    first, second, third = (make_organization("Same"), make_organization("Same"), make_organization("Alpha"))
    user = make_member(first).user
    for org in (third, second):
        Membership.objects.create(organization=org, user=user, role="member")
    orgs = [m.organization for m in selectors.user_memberships(user=user)]
    assert orgs == sorted([first, second, third], key=lambda o: (o.name, o.pk))
