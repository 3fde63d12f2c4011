"""Invitations: nothing happens before the invited person accepts; links expire, are revoked,
re-sent and used once; answers are alike for registered and unknown addresses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from stratus.accounts.models import Invitation, Membership, Role, User
from stratus.accounts.tests.helpers import PASSWORD, link_token, session_client, user_with_password
from testsupport.factories import make_organization, make_token, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(api_client):
    return api_client(Role.ADMIN)


@pytest.fixture
def invite(admin, django_capture_on_commit_callbacks):
    def send(email: str, role: str = "member", path: str = "/api/v1/invitations"):
        with django_capture_on_commit_callbacks(execute=True):
            return admin.post(path, {"email": email, "role": role}, format="json")

    return send


def _accept(client, token: str):
    return client.post("/api/v1/invitations/accept", {"token": token}, format="json")


def _comparable(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in {"id", "email", "created_at", "sent_at", "expires_at"}}


def test_post_members_invites_alike_whether_or_not_the_address_has_an_account(invite, organization) -> None:
    user_with_password("known@example.com")
    known = invite("known@example.com", path="/api/v1/members")
    unknown = invite("unknown@example.com", path="/api/v1/members")
    assert known.status_code == unknown.status_code == 202, (known.content, unknown.content)
    assert _comparable(known.json()) == _comparable(unknown.json())
    assert known.json()["status"] == "pending"
    assert known.headers["Location"] == f"/api/v1/invitations/{known.json()['id']}"
    # nobody joined: both only got an email with a link
    assert not Membership.objects.filter(organization=organization, user__email="known@example.com").exists()
    assert not User.objects.filter(email="unknown@example.com").exists()
    assert sorted(m.to[0] for m in mail.outbox) == ["known@example.com", "unknown@example.com"]
    message = mail.outbox[0]
    assert organization.name in message.subject
    assert "/invitations/" in message.body


def test_the_invited_user_accepts_signed_in_as_that_address(invite, organization) -> None:
    invitee = user_with_password("invitee@example.com")
    assert invite("invitee@example.com", role="viewer").status_code == 201
    token = link_token("invitations", "invitee@example.com")
    accepted = _accept(session_client(invitee), token)
    assert accepted.status_code == 201, accepted.content
    assert accepted.json() == {"organization": accepted.json()["organization"], "role": "viewer"}
    assert Membership.objects.get(organization=organization, user=invitee).role == Role.VIEWER
    invitation = Invitation.objects.get()
    assert (invitation.status(timezone.now()), invitation.accepted_by) == ("accepted", invitee)
    invitee.refresh_from_db()
    assert invitee.email_verified_at is not None
    assert invitee.default_organization == organization
    used = _accept(session_client(invitee), token)
    assert used.status_code == 410
    assert "used already" in used.json()["detail"]


def test_someone_else_cannot_accept_and_nothing_changes(invite, organization) -> None:
    user_with_password("invitee@example.com")
    intruder = user_with_password("intruder@example.com")
    invite("invitee@example.com")
    token = link_token("invitations", "invitee@example.com")
    response = _accept(session_client(intruder), token)
    assert response.status_code == 403
    assert "another address" in response.json()["detail"]
    assert not Membership.objects.filter(organization=organization, user=intruder).exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_api_token_cannot_accept(invite, organization) -> None:
    other = make_organization("Elsewhere")
    invitee_token = make_token(other, Role.OWNER)
    invitee = Membership.objects.filter(organization=other).order_by("-id")[0].user
    invite(invitee.email)
    response = _accept(token_client(invitee_token), link_token("invitations", invitee.email))
    assert response.status_code == 403
    assert not Membership.objects.filter(organization=organization, user=invitee).exists()


def test_expired_and_revoked_invitations_are_refused(invite, admin, organization) -> None:
    invitee = user_with_password("invitee@example.com")
    created = invite("invitee@example.com").json()
    token = link_token("invitations", "invitee@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _accept(session_client(invitee), token)
    assert (response.status_code, response.json()["detail"]) == (
        410,
        "This invitation has expired: ask for a new one.",
    )
    assert admin.get(f"/api/v1/invitations/{created['id']}").json()["status"] == "expired"

    Invitation.objects.update(expires_at=timezone.now() + timedelta(days=1))
    revoked = admin.post(f"/api/v1/invitations/{created['id']}/revoke")
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")
    response = _accept(session_client(invitee), token)
    assert (response.status_code, response.json()["detail"]) == (410, "This invitation was revoked.")
    assert not Membership.objects.filter(organization=organization, user=invitee).exists()
    # a revoked invitation cannot be re-sent; a new one can be made
    assert admin.post(f"/api/v1/invitations/{created['id']}/resend").status_code == 409
    assert invite("invitee@example.com").status_code == 201


def test_resending_voids_the_old_link(
    invite, admin, organization, django_capture_on_commit_callbacks
) -> None:
    invitee = user_with_password("invitee@example.com")
    created = invite("invitee@example.com").json()
    old = link_token("invitations", "invitee@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # expired: re-send renews it
    with django_capture_on_commit_callbacks(execute=True):
        resent = admin.post(f"/api/v1/invitations/{created['id']}/resend")
    assert resent.status_code == 200, resent.content
    assert resent.json()["status"] == "pending"
    new = link_token("invitations", "invitee@example.com")
    assert new != old
    response = _accept(session_client(invitee), old)
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "token"
    assert _accept(session_client(invitee), new).status_code == 201
    assert admin.post(f"/api/v1/invitations/{created['id']}/resend").status_code == 409  # accepted


def test_inviting_a_member_or_a_pending_address_is_a_conflict(invite, organization) -> None:
    existing = Membership.objects.filter(organization=organization, role=Role.OWNER).get()
    response = invite(existing.user.email)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (409, "email")
    assert invite("twice@example.com").status_code == 201
    response = invite("TWICE@example.com")
    assert response.status_code == 409
    assert "re-send or revoke" in response.json()["detail"]
    assert Invitation.objects.filter(email="twice@example.com").count() == 1


def test_invitations_are_listed_for_admins_only(invite, admin, api_client) -> None:
    invite("a@example.com")
    invite("b@example.com", role="viewer")
    listed = admin.get("/api/v1/invitations").json()["results"]
    assert [(i["email"], i["role"], i["status"]) for i in listed] == [
        ("b@example.com", "viewer", "pending"),
        ("a@example.com", "member", "pending"),
    ]
    assert api_client(Role.MEMBER).get("/api/v1/invitations").status_code == 403


def test_an_unknown_address_signs_up_through_the_invitation(invite, organization) -> None:
    invite("fresh@example.com", role="member")
    token = link_token("invitations", "fresh@example.com")
    details = Client().post("/api/v1/invitations/inspect", {"token": token}, content_type="application/json")
    assert details.json()["account_exists"] is False
    assert details.json()["organization"] == organization.name
    client = Client(enforce_csrf_checks=True)
    weak = client.post(
        "/api/v1/invitations/signup", {"token": token, "password": "123"}, content_type="application/json"
    )
    assert weak.status_code == 422
    assert not User.objects.filter(email="fresh@example.com").exists()
    response = client.post(
        "/api/v1/invitations/signup",
        {"token": token, "password": PASSWORD, "full_name": "Fresh Person"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    user = User.objects.get(email="fresh@example.com")
    assert user.email_verified_at is not None
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(organization=organization, user=user).role == Role.MEMBER
    # signed in, and the new organization is the session's default
    assert client.get("/api/v1/organization").json()["slug"] == organization.slug


def test_signup_through_an_invitation_refuses_an_existing_account(invite, organization) -> None:
    user_with_password("known@example.com")
    invite("known@example.com")
    token = link_token("invitations", "known@example.com")
    response = Client().post(
        "/api/v1/invitations/signup", {"token": token, "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 409
    assert User.objects.get(email="known@example.com").check_password(PASSWORD)
    assert not Membership.objects.filter(organization=organization, user__email="known@example.com").exists()


# --- the page the emailed link opens ----------------------------------------------------------


def _form(client: Client, path: str, **data: str):
    return client.post(path, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **data})


def test_the_link_page_signs_up_an_unknown_address(invite, organization) -> None:
    invite("page@example.com")
    path = f"/invitations/{link_token('invitations', 'page@example.com')}"
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    assert b'data-testid="signup-form"' in page.content
    assert not User.objects.filter(email="page@example.com").exists()  # GET changes nothing
    assert browser.post(path, {"action": "signup", "password": PASSWORD}).status_code == 403  # no CSRF
    joined = _form(browser, path, action="signup", password=PASSWORD, full_name="Page")
    assert joined.status_code == 200, joined.content
    assert b'data-testid="joined"' in joined.content
    assert (
        Membership.objects.get(organization=organization, user__email="page@example.com").role == Role.MEMBER
    )
    assert browser.get(path).status_code == 410


def test_the_link_page_signs_in_an_existing_account(invite, organization) -> None:
    user = user_with_password("page@example.com")
    invite("page@example.com")
    path = f"/invitations/{link_token('invitations', 'page@example.com')}"
    browser = Client(enforce_csrf_checks=True)
    assert b'data-testid="signin-form"' in browser.get(path).content
    wrong = _form(browser, path, action="signin", password="not-the-password")
    assert wrong.status_code == 400
    assert not Membership.objects.filter(organization=organization, user=user).exists()
    joined = _form(browser, path, action="signin", password=PASSWORD)
    assert b'data-testid="joined"' in joined.content
    assert Membership.objects.filter(organization=organization, user=user).exists()


def test_the_link_page_for_someone_signed_in_as_another_address(invite, organization) -> None:
    invite("page@example.com")
    path = f"/invitations/{link_token('invitations', 'page@example.com')}"
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user_with_password("other@example.com"))
    page = browser.get(path)
    assert b'data-testid="signout-form"' in page.content
    assert _form(browser, path, action="accept").status_code == 400
    assert _form(browser, path, action="signout").status_code == 302
    assert b'data-testid="signup-form"' in browser.get(path).content
    assert not Membership.objects.filter(organization=organization, user__email="other@example.com").exists()


def test_a_forged_link_page_is_404(client) -> None:
    page = client.get("/invitations/1.abc~forged")
    assert page.status_code == 404
    assert b"not valid" in page.content


@pytest.mark.subprocess
def test_invitation_email_goes_out_through_smtp(invite, settings, tmp_path) -> None:
    from testsupport.servers import smtp_server

    with smtp_server(tmp_path / "mail") as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.PUBLIC_BASE_URL = "https://crm.example.com"
        assert invite("smtp@example.com").status_code == 201
        messages = sink.parsed()
    assert [str(m["To"]) for m in messages] == ["smtp@example.com"]
    payload = messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert "https://crm.example.com/invitations/" in body


def test_the_admin_site_lists_invitations_read_only(invite, organization) -> None:
    invite("listed@example.com")
    operator = User.objects.create_superuser("operator@example.com", PASSWORD)
    browser = Client()
    browser.force_login(operator)
    listing = browser.get("/admin/accounts/invitation/")
    assert listing.status_code == 200
    assert b"listed@example.com" in listing.content
    assert browser.get("/admin/accounts/invitation/add/").status_code == 403
    assert browser.get(f"/admin/accounts/user/{operator.pk}/change/").status_code == 200
