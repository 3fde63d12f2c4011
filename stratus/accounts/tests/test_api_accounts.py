"""Sign-up, create_org and member management rules over the API."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from stratus.accounts.models import ApiToken, Membership, Organization, Role, User
from stratus.api.fixtures import make_member, make_user, token_client

pytestmark = pytest.mark.django_db

SIGNUP = {"email": "new@example.com", "password": "correct horse battery", "organization_name": "Newco"}


def test_signup_creates_user_organization_and_an_owner_token(client) -> None:
    response = client.post("/api/v1/signup", SIGNUP, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(email="new@example.com")
    assert user.check_password(SIGNUP["password"])
    organization = Organization.objects.get(pk=body["organization"]["id"])
    assert Membership.objects.get(user=user, organization=organization).role == Role.OWNER
    me = token_client(body["token"]["secret"]).get("/api/v1/organization")
    assert me.json()["slug"] == organization.slug


def test_signup_can_be_switched_off(client, settings) -> None:
    settings.SIGNUP_ENABLED = False
    response = client.post("/api/v1/signup", SIGNUP, content_type="application/json")
    assert response.status_code == 403
    assert "SIGNUP_ENABLED" in response.json()["detail"]
    assert not User.objects.filter(email="new@example.com").exists()


def test_signup_refuses_taken_email_and_weak_password(client) -> None:
    User.objects.create_user("taken@example.com")
    response = client.post(
        "/api/v1/signup", {**SIGNUP, "email": "Taken@example.com"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"
    response = client.post("/api/v1/signup", {**SIGNUP, "password": "123"}, content_type="application/json")
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"password"}
    assert Organization.objects.count() == 0


def test_create_org_prints_a_working_owner_token(capsys) -> None:
    call_command("create_org", "Cli Corp", "--owner", "cli@example.com")
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("st_")
    organization = Organization.objects.get(name="Cli Corp")
    assert ApiToken.objects.get(organization=organization).role == Role.OWNER
    response = token_client(secret).get("/api/v1/members")
    assert response.status_code == 200
    assert response.json()["results"][0]["user"]["email"] == "cli@example.com"


def test_admin_manages_members_but_not_admins_or_owners(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    colleague = make_user("colleague")
    response = admin.post("/api/v1/members", {"email": colleague.email, "role": "member"}, format="json")
    assert response.status_code == 201
    member_id = response.json()["id"]
    assert admin.patch(f"/api/v1/members/{member_id}", {"role": "viewer"}, format="json").status_code == 200
    # granting admin, touching an owner, adding an owner: refused, nothing changes
    assert admin.patch(f"/api/v1/members/{member_id}", {"role": "admin"}, format="json").status_code == 403
    owner = Membership.objects.filter(organization=organization, role=Role.OWNER).get()
    assert admin.patch(f"/api/v1/members/{owner.pk}", {"role": "viewer"}, format="json").status_code == 403
    assert admin.delete(f"/api/v1/members/{owner.pk}").status_code == 403
    other = make_user("other")
    assert (
        admin.post("/api/v1/members", {"email": other.email, "role": "owner"}, format="json").status_code
        == 403
    )
    assert Membership.objects.get(pk=member_id).role == Role.VIEWER
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert not Membership.objects.filter(user=other).exists()


def test_last_owner_cannot_leave_or_be_demoted(api_client, organization) -> None:
    owner_membership = Membership.objects.get(organization=organization, role=Role.OWNER)
    client = api_client(Role.OWNER)  # a second owner
    second = (
        Membership.objects.filter(organization=organization, role=Role.OWNER)
        .exclude(pk=owner_membership.pk)
        .get()
    )
    assert client.delete(f"/api/v1/members/{owner_membership.pk}").status_code == 204
    response = client.patch(f"/api/v1/members/{second.pk}", {"role": "admin"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "role"
    assert Membership.objects.get(pk=second.pk).role == Role.OWNER


def test_adding_unknown_or_existing_member_is_422(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    response = admin.post("/api/v1/members", {"email": "nobody@example.com", "role": "member"}, format="json")
    assert response.status_code == 422
    existing = make_member(organization, Role.VIEWER)
    response = admin.post("/api/v1/members", {"email": existing.user.email, "role": "member"}, format="json")
    assert response.status_code == 422
    assert Membership.objects.get(pk=existing.pk).role == Role.VIEWER


def test_admin_cannot_mint_owner_tokens(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    before = ApiToken.objects.count()
    assert admin.post("/api/v1/tokens", {"name": "x", "role": "owner"}, format="json").status_code == 403
    assert ApiToken.objects.count() == before
