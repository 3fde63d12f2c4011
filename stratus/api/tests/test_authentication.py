"""Tokens (hashed, role-capped, revocable) and sessions (CSRF, X-Organization)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from stratus.accounts.models import ApiToken, Membership, Role, User
from stratus.accounts.services import member_update, organization_create, token_create, token_revoke
from stratus.accounts.tokens import hash_token_secret
from stratus.api.authentication import TOKEN_CACHE_PREFIX
from testsupport.factories import make_member, make_organization, token_client

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_works(organization) -> None:
    owner = Membership.objects.get(organization=organization, role=Role.OWNER)
    issued = token_create(org=organization, actor=owner.user, name="ci", role=Role.MEMBER)
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.secret.startswith("st_")
    assert len(issued.secret) > 40
    assert stored.key_hash == hash_token_secret(issued.secret)
    assert issued.secret not in {stored.key_hash, stored.prefix, stored.name}
    response = token_client(issued.secret).get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["slug"] == organization.slug


def test_revoked_and_expired_tokens_are_refused(api_client, organization) -> None:
    admin = api_client(Role.ADMIN)
    created = admin.post("/api/v1/tokens", {"name": "temp", "role": "viewer"}, format="json").json()
    temp = token_client(created["secret"])
    assert temp.get("/api/v1/organization").status_code == 200
    assert admin.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    assert temp.get("/api/v1/organization").status_code == 401
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None
    assert admin.get(f"/api/v1/tokens/{created['id']}").status_code == 404

    created = admin.post("/api/v1/tokens", {"name": "soon", "role": "viewer"}, format="json").json()
    ApiToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert token_client(created["secret"]).get("/api/v1/organization").status_code == 401


def test_secret_is_shown_only_at_creation(api_client) -> None:
    admin = api_client(Role.ADMIN)
    created = admin.post("/api/v1/tokens", {"name": "once", "role": "member"}, format="json").json()
    assert created["secret"].startswith("st_")
    shown = admin.get(f"/api/v1/tokens/{created['id']}").json()
    assert "secret" not in shown
    assert all("secret" not in row for row in admin.get("/api/v1/tokens").json()["results"])


def test_token_role_is_capped_by_its_creators_current_role(organization) -> None:
    admin = make_member(organization, Role.ADMIN)
    issued = token_create(org=organization, actor=admin.user, name="t", role=Role.ADMIN)
    client = token_client(issued.secret)
    assert client.get("/api/v1/tokens").status_code == 200
    assert client.get("/api/v1/tokens").status_code == 200  # now from the cache
    owner = Membership.objects.get(organization=organization, role=Role.OWNER)
    member_update(org=organization, actor=owner.user, membership_id=admin.pk, role=Role.VIEWER)
    assert client.get("/api/v1/tokens").status_code == 403
    assert client.get("/api/v1/organization").status_code == 200


def test_removing_a_member_revokes_their_tokens(api_client, organization) -> None:
    member = make_member(organization, Role.ADMIN)
    issued = token_create(org=organization, actor=member.user, name="t", role=Role.MEMBER)
    for _ in range(2):  # the second time from the cache
        assert token_client(issued.secret).get("/api/v1/organization").status_code == 200
    owner = api_client(Role.OWNER)
    assert owner.delete(f"/api/v1/members/{member.pk}").status_code == 204
    assert token_client(issued.secret).get("/api/v1/organization").status_code == 401


def test_last_used_is_updated_at_most_once_a_minute(api_client, organization) -> None:
    client = api_client(Role.VIEWER)
    client.get("/api/v1/organization")
    token = ApiToken.objects.get(organization=organization, role=Role.VIEWER)
    first = token.last_used_at
    assert first is not None
    stale = first - timedelta(minutes=5)
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/organization")
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    cache.clear()  # the raw update above bypasses the cached copy of the token
    client.get("/api/v1/organization")
    refreshed = ApiToken.objects.get(pk=token.pk).last_used_at
    assert refreshed is not None
    assert refreshed > stale


def test_a_used_token_is_authenticated_from_the_cache(api_client, organization) -> None:
    client = api_client(Role.VIEWER)
    client.get("/api/v1/organization")
    client.get("/api/v1/organization")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/organization").status_code == 200
    assert not any("accounts_apitoken" in q["sql"] for q in queries.captured_queries)
    cached = [value for key in cache_keys() if (value := cache.get(key)) is not None]
    assert cached
    assert all("password" not in token.created_by.__dict__ for token in cached)


def cache_keys() -> list[str]:
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    prefix = cache.make_key(TOKEN_CACHE_PREFIX)
    return [key.decode().removeprefix(cache.make_key("")) for key in client.keys(prefix + "*")]


def test_deactivating_the_creator_refuses_a_cached_token(organization) -> None:
    member = make_member(organization, Role.ADMIN)
    issued = token_create(org=organization, actor=member.user, name="t", role=Role.MEMBER)
    client = token_client(issued.secret)
    assert client.get("/api/v1/organization").status_code == 200
    assert client.get("/api/v1/organization").status_code == 200
    member.user.is_active = False
    member.user.save(update_fields=["is_active"])
    assert client.get("/api/v1/organization").status_code == 401


def test_renaming_the_organization_shows_through_a_cached_token(api_client, organization) -> None:
    client = api_client(Role.OWNER)
    client.get("/api/v1/organization")
    assert client.patch("/api/v1/organization", {"name": "Renamed Co"}, format="json").status_code == 200
    assert client.get("/api/v1/organization").json()["name"] == "Renamed Co"


def test_revoking_a_cached_token_takes_effect_in_the_next_request(organization) -> None:
    owner = Membership.objects.get(organization=organization, role=Role.OWNER)
    issued = token_create(org=organization, actor=owner.user, name="t", role=Role.MEMBER)
    client = token_client(issued.secret)
    assert client.get("/api/v1/contacts").status_code == 200
    assert client.get("/api/v1/contacts").status_code == 200
    token_revoke(org=organization, actor=owner.user, token_id=issued.token.pk)
    assert client.get("/api/v1/contacts").status_code == 401


def test_token_with_another_organizations_header_is_400(api_client, other_organization) -> None:
    response = api_client().get("/api/v1/organization", HTTP_X_ORGANIZATION=other_organization.slug)
    assert response.status_code == 400
    assert "belongs to organization" in response.json()["detail"]


@pytest.fixture
def session_user(db) -> User:
    user = User.objects.create_user("session@example.com", "a-long-enough-password")
    return user


def _login(user: User, *, csrf: bool = True) -> APIClient:
    client = APIClient(enforce_csrf_checks=csrf)
    response = client.post(
        "/api/v1/auth/login", {"email": user.email, "password": "a-long-enough-password"}, format="json"
    )
    assert response.status_code == 200, response.content
    return client


def test_session_with_one_membership_needs_no_header(session_user) -> None:
    org = organization_create(name="Solo", owner=session_user)
    client = _login(session_user)
    assert client.get("/api/v1/organization").json()["slug"] == org.slug


def test_session_with_several_memberships_uses_the_default_unless_the_header_names_one(session_user) -> None:
    first = organization_create(name="One", owner=session_user)
    second = make_organization("Two")
    Membership.objects.create(organization=second, user=session_user, role=Role.VIEWER)
    client = _login(session_user)
    assert client.get("/api/v1/organization").json()["slug"] == first.slug  # the first membership
    assert client.get("/api/v1/organization", HTTP_X_ORGANIZATION=second.slug).json()["slug"] == second.slug
    me = client.get("/api/v1/me").json()
    assert {m["organization"]["slug"] for m in me["memberships"]} == {first.slug, second.slug}
    # viewer in the second organization: reads, cannot write
    assert client.get("/api/v1/organization", HTTP_X_ORGANIZATION=second.slug).status_code == 200


def test_session_header_naming_a_foreign_organization_is_403(session_user, other_organization) -> None:
    organization_create(name="Mine", owner=session_user)
    client = _login(session_user)
    response = client.get("/api/v1/organization", HTTP_X_ORGANIZATION=other_organization.slug)
    assert response.status_code == 403


def test_session_writes_need_the_csrf_token(session_user) -> None:
    organization_create(name="Csrf", owner=session_user)
    client = _login(session_user)
    response = client.patch("/api/v1/organization", {"name": "Changed"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    token = client.cookies["csrftoken"].value
    response = client.patch(
        "/api/v1/organization", {"name": "Changed"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Changed"


def test_login_with_wrong_password_is_400(session_user) -> None:
    response = APIClient().post(
        "/api/v1/auth/login", {"email": session_user.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


def test_logout_ends_the_session(session_user) -> None:
    organization_create(name="Out", owner=session_user)
    client = _login(session_user, csrf=False)
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/organization").status_code == 401
