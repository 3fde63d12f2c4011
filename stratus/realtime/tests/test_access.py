"""Access changes reach open sockets on every ws process at once.

Revoking a token, removing a member, deactivating a user or signing out closes the sockets
that credential opened (4401, 4403) on both replicas; a role change re-authorises them in
place. Everyone else's sockets stay open and keep receiving. The replicas re-check access
periodically only every 300 s (the default) and send heartbeats every 25 s, so a socket that
closes (or hears of its new role) within the suite's wait was told by the access notice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.test import Client as HttpClient
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.accounts.services import member_remove, member_update, membership_set, token_create, token_revoke
from stratus.realtime.auth import issue_ticket
from stratus.realtime.tests.conftest import Member, Realm
from stratus.realtime.tests.harness import Client, Server, asgi_server
from stratus.realtime.tests.test_protocol import awrite

pytestmark = pytest.mark.cluster


@dataclass
class Person:
    user: User
    browser: HttpClient  # signed in; its session opens the person's cookie sockets

    @property
    def cookie(self) -> str:
        name = django_settings.SESSION_COOKIE_NAME
        return f"{name}={self.browser.cookies[name].value}"


def _signed_in(user: User) -> Person:
    browser = HttpClient()
    browser.force_login(user)
    return Person(user=user, browser=browser)


@database_sync_to_async
def join(organization: Organization, email: str, role: Role) -> Person:
    user = User.objects.create_user(email, "a-long-password-1")
    membership_set(org=organization, user=user, role=role)
    return _signed_in(user)


@database_sync_to_async
def new_token(organization: Organization, user: User, role: Role = Role.MEMBER) -> str:
    issued = token_create(org=organization, actor=user, name="it", role=role)
    return str(issued.token.pk)


async def by_cookie(
    server: Server, person: Person | Member, organization: Organization | None = None
) -> Client:
    client = await Client.open(server.ws_url, cookie=person.cookie, origin=server.http_url)
    await client.subscribe(**({"organization": organization.slug} if organization else {}))
    return client


async def by_ticket(server: Server, user: User, organization: Organization, token_id: str) -> Client:
    """A socket opened the way an integration opens it: a ticket bound to its API token."""
    ticket = issue_ticket(user_id=user.pk, organization_id=organization.pk, token_id=token_id)
    client = await Client.open(server.ws_url)
    await client.subscribe(ticket=ticket)
    return client


async def still_receive(organization: Organization, clients: list[Client], n: int) -> None:
    """A new event of the organization is the next thing each of these sockets receives."""
    await awrite(organization.id, "contact.updated", {"id": n, "fields": ["name"]})
    for client in clients:
        message = await client.next()
        assert (message["type"], message["event"], message["data"]) == (
            "event",
            "contact.updated",
            {"id": n, "fields": ["name"]},
        )


def test_revoking_a_token_closes_its_sockets_on_both_replicas_only(realm: Realm) -> None:
    acme, globex = realm.alice.organization, realm.bob.organization
    a, b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        carol = await join(acme, "carol@acme.example", Role.MEMBER)
        revoked, kept = await new_token(acme, carol.user), await new_token(acme, carol.user)
        revoked_a = await by_ticket(a, carol.user, acme, revoked)
        revoked_b = await by_ticket(b, carol.user, acme, revoked)
        others = [
            await by_ticket(b, carol.user, acme, kept),  # another token of the same member
            await by_cookie(a, carol),  # the same member in the browser
            await by_cookie(b, realm.alice),
        ]
        bob = await by_cookie(a, realm.bob)

        await database_sync_to_async(token_revoke)(org=acme, actor=carol.user, token_id=revoked)
        for client in (revoked_a, revoked_b):
            assert await client.closed_with() == (4401, "the API token was revoked or expired")
        await still_receive(acme, others, 1)
        await still_receive(globex, [bob], 2)
        for client in [*others, bob]:
            await client.close()

    asyncio.run(scenario())


def test_removing_a_member_closes_their_sockets_on_both_replicas_only(realm: Realm) -> None:
    acme = realm.alice.organization
    a, b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        carol = await join(acme, "carol@acme.example", Role.MEMBER)
        dave = await join(acme, "dave@acme.example", Role.MEMBER)
        carol_token = await new_token(acme, carol.user)
        removed = [await by_cookie(a, carol), await by_ticket(b, carol.user, acme, carol_token)]
        others = [await by_cookie(a, realm.alice), await by_cookie(b, realm.alice), await by_cookie(b, dave)]

        membership = await database_sync_to_async(Membership.objects.get)(organization=acme, user=carol.user)
        await database_sync_to_async(member_remove)(
            org=acme, actor=realm.alice.user, membership_id=membership.pk
        )
        for client in removed:
            assert await client.closed_with() == (4403, "no longer a member of this organization")
        await still_receive(acme, others, 1)
        for client in others:
            await client.close()

    asyncio.run(scenario())


def test_a_role_change_reauthorises_the_members_sockets_in_place(realm: Realm) -> None:
    acme = realm.alice.organization
    a, b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        carol = await join(acme, "carol@acme.example", Role.MEMBER)
        carol_token = await new_token(acme, carol.user)
        carol_sockets = [await by_cookie(a, carol), await by_ticket(b, carol.user, acme, carol_token)]
        alice = await by_cookie(b, realm.alice)

        membership = await database_sync_to_async(Membership.objects.get)(organization=acme, user=carol.user)
        await database_sync_to_async(member_update)(
            org=acme, actor=realm.alice.user, membership_id=membership.pk, role=Role.VIEWER
        )
        # A viewer still reads the organization's events: the sockets stay, with the new role
        # (the token's socket too: a token acts with at most its creator's current role).
        for client in carol_sockets:
            assert await client.next() == {"type": "access", "role": "viewer"}
        await still_receive(acme, [*carol_sockets, alice], 1)  # alice heard of no change

        # Back to member: the browser's socket regains it; the token was made with "member".
        await database_sync_to_async(member_update)(
            org=acme, actor=realm.alice.user, membership_id=membership.pk, role=Role.MEMBER
        )
        for client in carol_sockets:
            assert await client.next() == {"type": "access", "role": "member"}
        await still_receive(acme, [*carol_sockets, alice], 2)
        for client in [*carol_sockets, alice]:
            await client.close()

    asyncio.run(scenario())


def test_deactivating_a_user_closes_their_sockets_in_every_organization(realm: Realm) -> None:
    acme, globex = realm.alice.organization, realm.bob.organization
    a, b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        carol = await join(acme, "carol@acme.example", Role.MEMBER)
        await database_sync_to_async(membership_set)(org=globex, user=carol.user, role=Role.VIEWER)
        carol_token = await new_token(globex, carol.user, Role.VIEWER)
        deactivated = [
            await by_cookie(a, carol, acme),
            await by_cookie(b, carol, globex),
            await by_ticket(a, carol.user, globex, carol_token),
        ]
        acme_others = [await by_cookie(a, realm.alice), await by_cookie(b, realm.alice)]
        globex_others = [await by_cookie(b, realm.bob)]

        def deactivate() -> None:
            user = User.objects.get(pk=carol.user.pk)
            user.is_active = False
            user.save()  # as the admin site saves it

        await database_sync_to_async(deactivate)()
        for client in deactivated:
            assert await client.closed_with() == (4401, "the account was deactivated")
        await still_receive(acme, acme_others, 1)
        await still_receive(globex, globex_others, 2)
        for client in [*acme_others, *globex_others]:
            await client.close()

    asyncio.run(scenario())


def test_signing_out_closes_the_sockets_of_that_session_only(realm: Realm) -> None:
    acme = realm.alice.organization
    a, b = realm.replicas.a, realm.replicas.b
    laptop, phone = _signed_in(realm.alice.user), _signed_in(realm.alice.user)  # two browsers

    async def scenario() -> None:
        signed_out = [await by_cookie(a, laptop), await by_cookie(b, laptop)]
        kept = [await by_cookie(b, phone)]

        response = await sync_to_async(laptop.browser.post)("/api/v1/auth/logout")
        assert response.status_code == 204, response.content
        for client in signed_out:
            assert await client.closed_with() == (4401, "signed out")
        await still_receive(acme, kept, 1)
        for client in kept:
            await client.close()

    asyncio.run(scenario())


def test_a_socket_closes_when_its_token_expires(realm: Realm) -> None:
    """Expiry announces nothing: the socket checks when its token's ``expires_at`` passes."""
    acme = realm.alice.organization
    # Heartbeats often, the periodic check never within the test.
    env = realm.env(REALTIME_HEARTBEAT_SECONDS="0.3", REALTIME_REAUTH_SECONDS="3600")
    with asgi_server(env, realm.log_dir) as server:

        async def scenario() -> None:
            carol = await join(acme, "carol@acme.example", Role.MEMBER)

            @database_sync_to_async
            def token_expiring_in(seconds: float) -> str:
                issued = token_create(
                    org=acme,
                    actor=carol.user,
                    name="short-lived",
                    role=Role.MEMBER,
                    expires_at=timezone.now() + timedelta(seconds=seconds),
                )
                return str(issued.token.pk)

            expiring = await by_ticket(server, carol.user, acme, await token_expiring_in(2))
            lasting = await by_ticket(server, carol.user, acme, await token_expiring_in(3600))
            assert await expiring.closed_with() == (4401, "the API token was revoked or expired")
            await still_receive(acme, [lasting], 1)
            await lasting.close()

        asyncio.run(scenario())
