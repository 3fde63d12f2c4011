"""The reported attacks of items 3 and 4, written with only the API that existed before the fix
(each of these failed on the old code)."""

import pytest
from rest_framework.test import APIClient

from stratus.accounts.models import Membership, Role, User
from testsupport.factories import make_organization, make_token, token_client

pytestmark = pytest.mark.django_db


def test_item3_admin_cannot_make_an_admin_through_post_members(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    target = User.objects.create_user("target@example.com")
    response = admin.post("/api/v1/members", {"email": target.email, "role": "admin"}, format="json")
    assert response.status_code == 403, response.content
    assert not Membership.objects.filter(organization=organization, user=target).exists()


def test_item4_post_members_adds_nobody_and_answers_alike(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    User.objects.create_user("known@example.com")
    known = admin.post("/api/v1/members", {"email": "known@example.com", "role": "member"}, format="json")
    unknown = admin.post("/api/v1/members", {"email": "unknown@example.com", "role": "member"}, format="json")
    assert known.status_code == unknown.status_code
    assert not Membership.objects.filter(organization=organization, user__email="known@example.com").exists()


def test_item4_signup_of_a_taken_address_answers_like_a_free_one(client) -> None:
    User.objects.create_user("taken@example.com")
    body = {"password": "correct horse battery", "organization_name": "X"}
    taken = client.post(
        "/api/v1/signup", {**body, "email": "taken@example.com"}, content_type="application/json"
    )
    free = client.post(
        "/api/v1/signup", {**body, "email": "free@example.com"}, content_type="application/json"
    )
    assert (taken.status_code, taken.content) == (free.status_code, free.content)


def test_item4_session_with_several_memberships_is_not_locked_out() -> None:
    user = User.objects.create_user("victim@example.com", "a-long-enough-password")
    make_organization("Mine")
    home = make_organization("Home")
    Membership.objects.create(organization=home, user=user, role=Role.OWNER)
    Membership.objects.create(organization=make_organization("Evil"), user=user, role=Role.VIEWER)
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/organization").status_code == 200


def test_item4_a_member_can_leave() -> None:
    user = User.objects.create_user("victim@example.com", "a-long-enough-password")
    evil = make_organization("Evil")
    membership = Membership.objects.create(organization=evil, user=user, role=Role.VIEWER)
    client = APIClient()
    client.force_login(user)
    assert client.delete(f"/api/v1/members/{membership.pk}").status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_also_found_me_through_a_token_shows_only_its_organization() -> None:
    a, b = make_organization("A"), make_organization("B")
    secret = make_token(a, Role.ADMIN)
    member = Membership.objects.filter(organization=a, role=Role.ADMIN).get()
    Membership.objects.create(organization=b, user=member.user, role=Role.OWNER)
    me = token_client(secret).get("/api/v1/me").json()
    assert [m["organization"]["slug"] for m in me["memberships"]] == [a.slug]
