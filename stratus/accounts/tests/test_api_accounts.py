"""Sign-up (confirmed by email, answers alike for every address), create_org and member rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from stratus.accounts.models import ApiToken, Invitation, Membership, Organization, Role, SignupRequest, User
from stratus.accounts.tests.helpers import PASSWORD, link_token, session_client
from testsupport.factories import make_member, make_user, token_client

pytestmark = pytest.mark.django_db

SIGNUP = {"email": "new@example.com", "password": "correct horse battery", "organization_name": "Newco"}


def _signup(client, capture, **overrides):
    with capture(execute=True):
        return client.post("/api/v1/signup", {**SIGNUP, **overrides}, content_type="application/json")


def test_signup_creates_nothing_until_the_emailed_link_is_confirmed(
    client, django_capture_on_commit_callbacks
) -> None:
    response = _signup(client, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert "Check your email" in response.json()["detail"]
    assert not User.objects.filter(email="new@example.com").exists()
    assert Organization.objects.count() == 0
    token = link_token("signup/confirm", "new@example.com")
    assert SignupRequest.objects.get().password != SIGNUP["password"]  # only the hash is kept

    confirmed = client.post("/api/v1/signup/confirm", {"token": token}, content_type="application/json")
    assert confirmed.status_code == 201, confirmed.content
    body = confirmed.json()
    user = User.objects.get(email="new@example.com")
    assert user.check_password(SIGNUP["password"])
    assert user.email_verified_at is not None
    organization = Organization.objects.get(pk=body["organization"]["id"])
    assert Membership.objects.get(user=user, organization=organization).role == Role.OWNER
    assert user.default_organization == organization
    assert (
        token_client(body["token"]["secret"]).get("/api/v1/organization").json()["slug"] == organization.slug
    )

    again = client.post("/api/v1/signup/confirm", {"token": token}, content_type="application/json")
    assert again.status_code == 410
    assert Organization.objects.count() == 1


def test_signup_of_a_taken_address_answers_alike_and_tells_the_owner(
    client, django_capture_on_commit_callbacks
) -> None:
    User.objects.create_user("taken@example.com", PASSWORD)
    free = _signup(client, django_capture_on_commit_callbacks, email="free@example.com")
    taken = _signup(client, django_capture_on_commit_callbacks, email="Taken@example.com")
    assert (taken.status_code, taken.content, taken.headers["Content-Type"]) == (
        free.status_code,
        free.content,
        free.headers["Content-Type"],
    )
    notice = next(m for m in mail.outbox if m.to == ["taken@example.com"])
    assert "already has an account" in notice.body
    assert "/signup/confirm/" not in notice.body
    assert not SignupRequest.objects.filter(email="taken@example.com").exists()
    assert Organization.objects.count() == 0
    assert User.objects.get(email="taken@example.com").check_password(PASSWORD)


def test_weak_password_is_refused_alike_for_taken_and_free_addresses(
    client, django_capture_on_commit_callbacks
) -> None:
    User.objects.create_user("taken@example.com")
    for email in ("taken@example.com", "free@example.com"):
        response = _signup(client, django_capture_on_commit_callbacks, email=email, password="123")
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"password"}
    assert not mail.outbox
    assert not SignupRequest.objects.exists()


def test_signup_confirmation_links_expire_and_cannot_be_forged(
    client, django_capture_on_commit_callbacks
) -> None:
    _signup(client, django_capture_on_commit_callbacks)
    token = link_token("signup/confirm", "new@example.com")
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = client.post("/api/v1/signup/confirm", {"token": forged}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "token"
    SignupRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post("/api/v1/signup/confirm", {"token": token}, content_type="application/json")
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]
    assert not User.objects.filter(email="new@example.com").exists()


def test_signup_can_be_switched_off(client, settings) -> None:
    settings.SIGNUP_ENABLED = False
    response = client.post("/api/v1/signup", SIGNUP, content_type="application/json")
    assert response.status_code == 403
    assert "SIGNUP_ENABLED" in response.json()["detail"]
    assert not SignupRequest.objects.exists()


def test_signup_confirm_page_asks_before_creating_and_signs_in(
    client, django_capture_on_commit_callbacks
) -> None:
    _signup(client, django_capture_on_commit_callbacks)
    token = link_token("signup/confirm", "new@example.com")
    browser = client_class_with_csrf()
    page = browser.get(f"/signup/confirm/{token}")
    assert page.status_code == 200
    assert b'data-testid="confirm-form"' in page.content
    assert not User.objects.filter(email="new@example.com").exists()  # GET changes nothing
    refused = browser.post(f"/signup/confirm/{token}")
    assert refused.status_code == 403  # no CSRF token
    created = browser.post(
        f"/signup/confirm/{token}", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    assert created.status_code == 200, created.content
    assert b'data-testid="created"' in created.content
    assert User.objects.get(email="new@example.com").memberships.get().role == Role.OWNER
    assert browser.get("/api/v1/organization").json()["name"] == "Newco"  # signed in
    used = browser.get(f"/signup/confirm/{token}")
    assert used.status_code == 410


def client_class_with_csrf():
    from django.test import Client

    return Client(enforce_csrf_checks=True)


def test_create_org_prints_a_working_owner_token(capsys) -> None:
    call_command("create_org", "Cli Corp", "--owner", "cli@example.com")
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("st_")
    organization = Organization.objects.get(name="Cli Corp")
    assert ApiToken.objects.get(organization=organization).role == Role.OWNER
    response = token_client(secret).get("/api/v1/members")
    assert response.status_code == 200
    assert response.json()["results"][0]["user"]["email"] == "cli@example.com"
    assert User.objects.get(email="cli@example.com").default_organization == organization


def test_admin_manages_members_but_not_admins_or_owners(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    colleague = make_member(organization, Role.MEMBER)
    assert (
        admin.patch(f"/api/v1/members/{colleague.pk}", {"role": "viewer"}, format="json").status_code == 200
    )
    # granting admin, touching an owner: refused, nothing changes
    refused = admin.patch(f"/api/v1/members/{colleague.pk}", {"role": "admin"}, format="json")
    assert refused.status_code == 403
    assert "Only owners can grant the admin role" in refused.json()["detail"]
    owner = Membership.objects.filter(organization=organization, role=Role.OWNER).get()
    assert admin.patch(f"/api/v1/members/{owner.pk}", {"role": "viewer"}, format="json").status_code == 403
    assert admin.delete(f"/api/v1/members/{owner.pk}").status_code == 403
    assert Membership.objects.get(pk=colleague.pk).role == Role.VIEWER
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_removing_a_member_revokes_their_tokens(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    colleague = make_member(organization, Role.MEMBER)
    from stratus.accounts.services import token_create

    issued = token_create(org=organization, actor=colleague.user, name="x", role=Role.MEMBER)
    assert admin.delete(f"/api/v1/members/{colleague.pk}").status_code == 204
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert token_client(issued.secret).get("/api/v1/contacts").status_code == 401


def test_last_owner_cannot_be_demoted(api_client, organization) -> None:
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


def test_admin_cannot_mint_owner_tokens(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    before = ApiToken.objects.count()
    assert admin.post("/api/v1/tokens", {"name": "x", "role": "owner"}, format="json").status_code == 403
    assert ApiToken.objects.count() == before


def test_me_through_a_token_shows_only_the_tokens_organization(organization, other_organization) -> None:
    person = make_user("both")
    Membership.objects.create(organization=organization, user=person, role=Role.ADMIN)
    Membership.objects.create(organization=other_organization, user=person, role=Role.OWNER)
    from stratus.accounts.services import token_create

    issued = token_create(org=organization, actor=person, name="x", role=Role.MEMBER)
    me = token_client(issued.secret).get("/api/v1/me").json()
    assert [m["organization"]["slug"] for m in me["memberships"]] == [organization.slug]
    assert me["memberships"][0]["role"] == Role.MEMBER  # the token's effective role
    assert me["default_organization"] == organization.slug
    both = session_client(person).get("/api/v1/me").json()
    assert {m["organization"]["slug"] for m in both["memberships"]} == {
        organization.slug,
        other_organization.slug,
    }


def test_one_address_gets_at_most_five_signup_emails_an_hour(
    client, django_capture_on_commit_callbacks
) -> None:
    User.objects.create_user("taken@example.com")
    answers = set()
    for email in ["new@example.com"] * 7 + ["taken@example.com"] * 7:
        response = _signup(client, django_capture_on_commit_callbacks, email=email)
        answers.add((response.status_code, response.content))
    assert len(answers) == 1  # every answer alike
    assert [m.to[0] for m in mail.outbox].count("new@example.com") == 5
    assert [m.to[0] for m in mail.outbox].count("taken@example.com") == 5
    assert SignupRequest.objects.filter(email="new@example.com").count() == 5


def test_a_tokens_role_caps_what_its_creator_grants_through_it(organization) -> None:
    """An owner's admin-role token acts as an admin: the owner's own role is not used."""
    owner = Membership.objects.get(organization=organization, role=Role.OWNER).user
    from stratus.accounts.services import token_create

    admin_token = token_create(org=organization, actor=owner, name="integration", role=Role.ADMIN)
    through_token = token_client(admin_token.secret)
    before = ApiToken.objects.count()
    refused = through_token.post("/api/v1/tokens", {"name": "x", "role": "owner"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("role_not_grantable")
    assert ApiToken.objects.count() == before
    granted = through_token.post("/api/v1/tokens", {"name": "y", "role": "admin"}, format="json")
    assert granted.status_code == 201
    assert ApiToken.objects.get(pk=granted.json()["id"]).role == Role.ADMIN


def test_services_read_the_actors_role_from_the_membership(organization) -> None:
    from stratus.accounts.services import acting_role, invitation_create
    from stratus.platform.errors import Forbidden

    member = make_member(organization, Role.MEMBER)
    assert (
        acting_role(org=organization, actor=member.user, role_cap=Role.OWNER) == Role.MEMBER
    )  # never raised
    with pytest.raises(Forbidden) as refused:
        invitation_create(org=organization, actor=member.user, email="x@example.com", role=Role.VIEWER)
    assert refused.value.code == "role_not_grantable"
    stranger = make_user("stranger")
    with pytest.raises(Forbidden) as not_member:
        invitation_create(org=organization, actor=stranger, email="x@example.com", role=Role.VIEWER)
    assert not_member.value.code == "not_a_member"
    assert not Invitation.objects.filter(organization=organization).exists()
