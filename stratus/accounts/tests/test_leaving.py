"""Any member can leave (the last owner cannot); sessions act in a default organization."""

from __future__ import annotations

import pytest

from stratus.accounts.models import ApiToken, Membership, Role
from stratus.accounts.services import organization_create, token_create
from stratus.accounts.tests.helpers import session_client, user_with_password
from testsupport.factories import make_organization, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return user_with_password("person@example.com")


def _join(organization, user, role=Role.VIEWER) -> Membership:
    return Membership.objects.create(organization=organization, user=user, role=role)


@pytest.mark.parametrize("how", ["leave endpoint", "delete own membership"])
@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN])
def test_any_member_can_leave_and_their_tokens_there_are_revoked(person, how, role) -> None:
    home = organization_create(name="Home", owner=person)
    joined = make_organization("Joined")
    membership = _join(joined, person, role)
    kept = token_create(org=home, actor=person, name="home", role=Role.OWNER)
    lost = token_create(org=joined, actor=person, name="joined", role=role)
    client = session_client(person)
    if how == "leave endpoint":
        response = client.post("/api/v1/organization/leave", HTTP_X_ORGANIZATION=joined.slug)
    else:
        response = client.delete(f"/api/v1/members/{membership.pk}", HTTP_X_ORGANIZATION=joined.slug)
    assert response.status_code == 204, response.content
    assert not Membership.objects.filter(organization=joined, user=person).exists()
    assert ApiToken.objects.get(pk=lost.token.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=kept.token.pk).revoked_at is None
    assert token_client(lost.secret).get("/api/v1/contacts").status_code == 401
    assert client.get("/api/v1/organization", HTTP_X_ORGANIZATION=joined.slug).status_code == 403


def test_the_last_owner_cannot_leave(person) -> None:
    home = organization_create(name="Home", owner=person)
    membership = Membership.objects.get(organization=home, user=person)
    client = session_client(person)
    for response in (
        client.post("/api/v1/organization/leave"),
        client.delete(f"/api/v1/members/{membership.pk}"),
    ):
        assert response.status_code == 409
        assert "last owner" in response.json()["detail"]
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER
    _join(home, user_with_password("second@example.com"), Role.OWNER)
    assert client.post("/api/v1/organization/leave").status_code == 204


def test_a_token_cannot_make_its_creator_leave(person) -> None:
    joined = make_organization("Joined")
    membership = _join(joined, person, Role.ADMIN)
    issued = token_create(org=joined, actor=person, name="t", role=Role.ADMIN)
    client = token_client(issued.secret)
    assert client.post("/api/v1/organization/leave").status_code == 403
    assert client.delete(f"/api/v1/members/{membership.pk}").status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_member_cannot_remove_someone_else(person) -> None:
    joined = make_organization("Joined")
    _join(joined, person, Role.MEMBER)
    other = _join(joined, user_with_password("other@example.com"), Role.VIEWER)
    response = session_client(person).delete(f"/api/v1/members/{other.pk}", HTTP_X_ORGANIZATION=joined.slug)
    assert response.status_code == 403
    assert Membership.objects.filter(pk=other.pk).exists()


def test_sessions_use_the_default_organization_which_the_user_sets(person) -> None:
    first = organization_create(name="First", owner=person)
    second = make_organization("Second")
    _join(second, person, Role.MEMBER)
    client = session_client(person)
    assert client.get("/api/v1/organization").json()["slug"] == first.slug  # the first membership
    me = client.get("/api/v1/me").json()
    assert me["default_organization"] == first.slug
    changed = client.patch("/api/v1/me", {"default_organization": second.slug}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["default_organization"] == second.slug
    assert client.get("/api/v1/organization").json()["slug"] == second.slug
    assert client.get("/api/v1/organization", HTTP_X_ORGANIZATION=first.slug).json()["slug"] == first.slug
    foreign = make_organization("Foreign")
    refused = client.patch("/api/v1/me", {"default_organization": foreign.slug}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "default_organization"
    person.refresh_from_db()
    assert person.default_organization == second


def test_leaving_the_default_organization_moves_the_default(person) -> None:
    first = organization_create(name="First", owner=person)
    second = make_organization("Second")
    _join(second, person, Role.MEMBER)
    third = make_organization("Third")
    _join(third, person, Role.VIEWER)
    client = session_client(person)
    client.patch("/api/v1/me", {"default_organization": second.slug}, format="json")
    assert client.post("/api/v1/organization/leave").status_code == 204  # leaves "Second"
    person.refresh_from_db()
    assert person.default_organization == first  # the oldest remaining membership
    assert client.get("/api/v1/organization").json()["slug"] == first.slug


def test_a_token_cannot_change_the_default_organization(person) -> None:
    home = organization_create(name="Home", owner=person)
    issued = token_create(org=home, actor=person, name="t", role=Role.OWNER)
    response = token_client(issued.secret).patch(
        "/api/v1/me", {"default_organization": home.slug}, format="json"
    )
    assert response.status_code == 403


def test_live_update_sockets_of_a_session_use_the_default_organization_too(person) -> None:
    from django.conf import settings

    from stratus.realtime import auth

    first = organization_create(name="First", owner=person)
    second = make_organization("Second")
    _join(second, person, Role.MEMBER)
    client = session_client(person)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert auth.authenticate_session(session_key, None).organization_slug == first.slug
    client.patch("/api/v1/me", {"default_organization": second.slug}, format="json")
    assert auth.authenticate_session(session_key, None).organization_slug == second.slug
    assert auth.authenticate_session(session_key, first.slug).organization_slug == first.slug
