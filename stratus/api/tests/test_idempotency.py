"""Idempotency-Key: replay without repeating the effect, refuse a reused key, survive races."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from datetime import timedelta

import psycopg
import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from stratus.accounts.models import ApiToken, Membership, Organization, Role
from stratus.accounts.services import token_create
from stratus.accounts.tokens import hash_token_secret
from stratus.api.models import IdempotencyKey
from testsupport.factories import make_member, make_organization, make_token, token_client
from testsupport.processes import live_database_url

pytestmark = pytest.mark.django_db


def _post(client: APIClient, key: str, body: dict, path: str = "/api/v1/tokens"):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_replays_without_a_second_effect(api_client, organization) -> None:
    client = api_client(Role.ADMIN)
    first = _post(client, "key-1", {"name": "once", "role": "viewer"})
    second = _post(client, "key-1", {"name": "once", "role": "viewer"})
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(organization=organization, name="once").count() == 1


def test_same_key_with_another_body_is_422(api_client, organization) -> None:
    client = api_client(Role.ADMIN)
    assert _post(client, "key-2", {"name": "a", "role": "viewer"}).status_code == 201
    response = _post(client, "key-2", {"name": "b", "role": "viewer"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not ApiToken.objects.filter(name="b").exists()


def test_keys_are_per_organization(api_client, other_organization) -> None:
    mine = api_client(Role.ADMIN)
    theirs = token_client(make_token(other_organization, Role.ADMIN))
    assert _post(mine, "shared", {"name": "t", "role": "viewer"}).status_code == 201
    response = _post(theirs, "shared", {"name": "t", "role": "viewer"})
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(name="t").count() == 2


def _second_token_of(secret: str) -> str:
    """Another token of the same member as ``secret``, with the same role."""
    first = ApiToken.objects.select_related("organization", "created_by").get(
        key_hash=hash_token_secret(secret)
    )
    return token_create(
        org=first.organization,
        actor=first.created_by,
        name="second",
        role=first.role,
    ).secret


def _session_client(membership: Membership) -> APIClient:
    client = APIClient()
    client.force_login(membership.user)
    return client


def _assert_fresh_effect(response, status: int = 201) -> None:
    assert response.status_code == status, response.content
    assert not response.has_header("Idempotent-Replayed")


def test_another_user_with_the_same_key_and_body_runs_their_own_request(api_client, organization) -> None:
    body = {"name": "per-user", "role": "viewer"}
    first = _post(api_client(Role.ADMIN), "shared-key", body)
    second = _post(api_client(Role.ADMIN), "shared-key", body)
    _assert_fresh_effect(first)
    _assert_fresh_effect(second)
    assert first.json()["secret"] != second.json()["secret"]
    assert ApiToken.objects.filter(organization=organization, name="per-user").count() == 2


def test_a_viewer_reusing_the_owners_key_gets_403_and_no_secret(api_client, organization) -> None:
    body = {"name": "ci", "role": "admin"}
    owner = _post(api_client(Role.OWNER), "create-token-ci", body)
    assert owner.status_code == 201
    secret = owner.json()["secret"]
    viewer = _post(api_client(Role.VIEWER), "create-token-ci", body)
    assert viewer.status_code == 403
    assert not viewer.has_header("Idempotent-Replayed")
    assert secret.encode() not in viewer.content
    assert ApiToken.objects.filter(organization=organization, name="ci").count() == 1
    # The viewer's refusal kept nothing: the owner's key still replays to the owner alone.
    assert IdempotencyKey.objects.filter(key="create-token-ci").count() == 1


def test_two_tokens_of_one_member_have_separate_keys(api_client, organization) -> None:
    first_secret = make_token(organization, Role.ADMIN)
    second_secret = _second_token_of(first_secret)
    body = {"name": "per-token", "role": "viewer"}
    first = _post(token_client(first_secret), "same-member", body)
    second = _post(token_client(second_secret), "same-member", body)
    _assert_fresh_effect(first)
    _assert_fresh_effect(second)
    assert first.json()["secret"] != second.json()["secret"]
    replay = _post(token_client(second_secret), "same-member", body)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == second.content
    assert ApiToken.objects.filter(organization=organization, name="per-token").count() == 2


def test_a_session_and_a_token_of_one_user_have_separate_keys(organization: Organization) -> None:
    membership = make_member(organization, Role.ADMIN)
    issued = token_create(org=organization, actor=membership.user, name="cli", role=Role.ADMIN)
    session = _session_client(membership)
    body = {"name": "per-credential", "role": "viewer"}
    by_session = _post(session, "same-user", body)
    by_token = _post(token_client(issued.secret), "same-user", body)
    _assert_fresh_effect(by_session)
    _assert_fresh_effect(by_token)
    assert by_session.json()["secret"] != by_token.json()["secret"]
    # Each credential still gets its own response replayed.
    again = _post(session, "same-user", body)
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == by_session.content
    again = _post(token_client(issued.secret), "same-user", body)
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == by_token.content
    assert ApiToken.objects.filter(organization=organization, name="per-credential").count() == 2


def test_a_session_users_keys_are_per_organization(organization, other_organization) -> None:
    membership = make_member(organization, Role.ADMIN)
    Membership.objects.create(organization=other_organization, user=membership.user, role=Role.ADMIN)
    session = _session_client(membership)
    body = {"name": "two-orgs", "role": "viewer"}
    here = session.post(
        "/api/v1/tokens", body, format="json", HTTP_IDEMPOTENCY_KEY="k", HTTP_X_ORGANIZATION=organization.slug
    )
    there = session.post(
        "/api/v1/tokens",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
        HTTP_X_ORGANIZATION=other_organization.slug,
    )
    _assert_fresh_effect(here)
    _assert_fresh_effect(there)
    assert ApiToken.objects.filter(name="two-orgs").count() == 2


def test_validation_errors_are_replayed_too(api_client) -> None:
    client = api_client(Role.ADMIN)
    first = _post(client, "bad", {"name": "x", "role": "wizard"})
    second = _post(client, "bad", {"name": "x", "role": "wizard"})
    assert first.status_code == second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"


def test_forbidden_requests_keep_nothing(api_client, organization) -> None:
    viewer = api_client(Role.VIEWER)
    assert _post(viewer, "denied", {"name": "x", "role": "viewer"}).status_code == 403
    assert not IdempotencyKey.objects.filter(key="denied").exists()


def test_expired_keys_run_again(api_client, organization) -> None:
    client = api_client(Role.ADMIN)
    assert _post(client, "old", {"name": "old", "role": "viewer"}).status_code == 201
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    response = _post(client, "old", {"name": "old", "role": "viewer"})
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(name="old").count() == 2


def test_malformed_key_is_400(api_client) -> None:
    response = _post(api_client(Role.ADMIN), "has space", {"name": "x", "role": "viewer"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


@override_settings(ROOT_URLCONF="stratus.api.tests.urls", DEBUG=False)
def test_a_crash_rolls_back_the_effect_and_frees_the_key(api_client, organization) -> None:
    client = api_client(Role.OWNER)
    client.raise_request_exception = False
    for _ in range(2):
        response = _post(client, "crash", {}, path="/api/v1/test-write-then-crash")
        assert response.status_code == 500
        assert not response.has_header("Idempotent-Replayed")
    assert not ApiToken.objects.filter(name="half-written").exists()
    assert not IdempotencyKey.objects.filter(key="crash").exists()


def _send(url: str, secret: str, key: str, body: dict, results: list, index: int) -> None:
    request = urllib.request.Request(
        f"{url}/api/v1/tokens",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        results[index] = (response.status, response.headers.get("Idempotent-Replayed"), response.read())


def _waiting_backends(conn: psycopg.Connection, database: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [database]
    ).fetchone()
    return int(row[0]) if row else 0


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_on_two_servers_make_one_effect() -> None:
    from testsupport.servers import gunicorn_server

    organization = make_organization("Race")
    secret = make_token(organization, Role.ADMIN)
    ApiToken.objects.filter(organization=organization).update(last_used_at=timezone.now())
    database = live_database_url().rsplit("/", 1)[1]
    body = {"name": "raced", "role": "viewer"}
    results: list = [None, None]
    with (
        gunicorn_server() as first,
        gunicorn_server() as second,
        psycopg.connect(live_database_url()) as gate,
    ):
        watcher = psycopg.connect(live_database_url(), autocommit=True)
        try:
            # Hold back inserts of tokens: request A inserts its key row, then waits here.
            gate.execute("LOCK TABLE accounts_apitoken IN SHARE ROW EXCLUSIVE MODE")
            a = threading.Thread(target=_send, args=(first, secret, "race-key", body, results, 0))
            a.start()
            _wait_for(lambda: _waiting_backends(watcher, database) == 1, "request A to reach the write")
            b = threading.Thread(target=_send, args=(second, secret, "race-key", body, results, 1))
            b.start()
            # B blocks on A's uncommitted key row (a transaction lock), not on the table.
            _wait_for(lambda: _waiting_backends(watcher, database) == 2, "request B to wait on the key")
            gate.commit()
            a.join(60)
            b.join(60)
        finally:
            watcher.close()
    assert results[0] is not None
    assert results[1] is not None
    (status_a, replay_a, body_a), (status_b, replay_b, body_b) = results
    assert status_a == status_b == 201
    assert body_a == body_b
    assert (replay_a, replay_b) == (None, "true")
    assert ApiToken.objects.filter(organization=organization, name="raced").count() == 1


def test_expired_keys_are_purged(api_client, organization) -> None:
    from django.core.management import call_command

    from stratus.api.tasks import purge_idempotency_keys

    client = api_client(Role.ADMIN)
    assert _post(client, "fresh", {"name": "f", "role": "viewer"}).status_code == 201
    assert _post(client, "stale", {"name": "s", "role": "viewer"}).status_code == 201
    IdempotencyKey.objects.filter(key="stale").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    call_command("purge_idempotency_keys")
    assert IdempotencyKey.objects.filter(key="fresh").exists()
