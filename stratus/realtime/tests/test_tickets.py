"""Tickets: obtained over the REST API with a token or a session, spent once on /ws/."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.accounts.services import token_create, token_revoke
from stratus.realtime import auth
from stratus.realtime.auth import Refused
from stratus.realtime.tests.conftest import Realm
from stratus.realtime.tests.harness import Client
from stratus.realtime.tests.test_protocol import awrite
from testsupport.factories import make_member, make_token, token_client


def test_any_member_gets_a_ticket_for_its_organization(organization: Organization) -> None:
    response = token_client(make_token(organization, Role.VIEWER)).post("/api/v1/realtime/tickets")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["url"], body["organization"], body["expires_in"]) == ("/ws/", organization.slug, 30)
    payload = auth.read_ticket(body["ticket"])
    assert payload["o"] == organization.pk
    viewer = Membership.objects.get(organization=organization, role=Role.VIEWER)
    assert payload["u"] == viewer.user_id
    assert "k" in payload  # bound to the token, so revoking the token voids it


def test_session_users_get_tickets_too(organization: Organization) -> None:
    member = make_member(organization, Role.MEMBER)
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(member.user)
    response = client.post("/api/v1/realtime/tickets")
    assert response.status_code == 201, response.content
    assert "k" not in auth.read_ticket(response.json()["ticket"])


def test_anonymous_callers_get_no_ticket(db: Any) -> None:
    response = APIClient().post("/api/v1/realtime/tickets")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_forged_and_expired_tickets_are_refused(settings: Any) -> None:
    ticket = auth.issue_ticket(user_id=1, organization_id=2)
    with pytest.raises(Refused, match="invalid ticket"):
        auth.read_ticket(ticket[:-2] + "xx")
    settings.REALTIME_TICKET_TTL_SECONDS = -1
    with pytest.raises(Refused, match="ticket expired"):
        auth.read_ticket(ticket)


def _refused(subscription: auth.Subscription) -> tuple[int, str]:
    with pytest.raises(Refused) as refused:
        auth.recheck(subscription)
    return refused.value.code, refused.value.reason


def test_access_is_rechecked_for_revoked_tokens_removed_members_and_signed_out_sessions(
    organization: Organization,
) -> None:
    member = make_member(organization, Role.ADMIN)
    issued = token_create(org=organization, actor=member.user, name="ci", role=Role.VIEWER)
    by_ticket = auth.authenticate_ticket(
        auth.read_ticket(
            auth.issue_ticket(
                user_id=member.user_id, organization_id=organization.pk, token_id=str(issued.token.pk)
            )
        ),
        None,
    )
    assert by_ticket.role == Role.VIEWER  # the token's role caps its creator's
    assert auth.recheck(by_ticket) == by_ticket
    token_revoke(org=organization, actor=member.user, token_id=issued.token.pk)
    assert _refused(by_ticket) == (4401, "the API token was revoked or expired")
    with pytest.raises(Refused, match="revoked or expired"):
        auth.authenticate_ticket(
            auth.read_ticket(
                auth.issue_ticket(
                    user_id=member.user_id, organization_id=organization.pk, token_id=str(issued.token.pk)
                )
            ),
            None,
        )

    client = APIClient()
    client.force_login(member.user)
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    by_session = auth.authenticate_session(session_key, organization.slug)
    assert auth.recheck(by_session) == by_session
    import_module(django_settings.SESSION_ENGINE).SessionStore(session_key).delete()
    assert _refused(by_session) == (4401, "signed out")

    by_session = auth.authenticate_session(_signed_in(member), None)
    Membership.objects.filter(pk=member.pk).update(role=Role.MEMBER)
    assert auth.recheck(by_session).role == Role.MEMBER  # re-authorised with the new role
    User.objects.filter(pk=member.user_id).update(is_active=False)
    assert _refused(by_session) == (4401, "the account was deactivated")
    Membership.objects.filter(pk=member.pk).delete()
    assert _refused(by_session) == (4403, "no longer a member of this organization")


def _signed_in(member: Membership) -> str:
    client = APIClient()
    client.force_login(member.user)
    return str(client.cookies[django_settings.SESSION_COOKIE_NAME].value)


def _post(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.cluster
def test_ticket_from_one_replica_opens_a_socket_on_the_other_once(realm: Realm) -> None:
    org = realm.alice.organization
    issued = token_create(org=org, actor=realm.alice.user, name="integration", role=Role.MEMBER)
    server_a, server_b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        ticket = await asyncio.to_thread(_post, f"{server_a.http_url}/api/v1/realtime/tickets", issued.secret)
        client = await Client.open(server_b.ws_url)  # no cookie, no Origin: an integration
        subscribed = await client.subscribe(ticket=ticket["ticket"])
        assert (subscribed["organization"], subscribed["role"]) == (org.slug, "member")
        await awrite(org.id, "deal.created", {"id": 3, "title": "Renewal", "stage": 1})
        assert (await client.next())["event"] == "deal.created"

        replay = await Client.open(server_a.ws_url)
        await replay.send({"type": "subscribe", "ticket": ticket["ticket"]})
        assert await replay.closed_with() == (4401, "ticket already used")

        # A ticket names its organization; asking for another one is refused.
        other = await asyncio.to_thread(_post, f"{server_a.http_url}/api/v1/realtime/tickets", issued.secret)
        wrong = await Client.open(server_a.ws_url)
        await wrong.send(
            {"type": "subscribe", "ticket": other["ticket"], "organization": realm.bob.organization.slug}
        )
        assert await wrong.closed_with() == (4403, "the ticket was issued for another organization")
        await client.close()

    asyncio.run(scenario())
