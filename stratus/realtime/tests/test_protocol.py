"""The /ws/ protocol against a real uvicorn process: authentication, refusals, delivery rules."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction

from stratus.accounts.models import Role, User
from stratus.accounts.services import membership_set
from stratus.realtime.events import publish
from stratus.realtime.store import get_store
from stratus.realtime.tests.conftest import Realm, sign_in
from stratus.realtime.tests.harness import Client, Server, asgi_server, suite_database_url

pytestmark = pytest.mark.cluster


def write(
    organization_id: int,
    event: str,
    data: dict[str, Any],
    *,
    rollback: bool = False,
    user_id: int | None = None,
) -> None:
    """A service-like write: publish inside a transaction that commits or rolls back."""

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            publish(organization_id=organization_id, event=event, data=data, user_id=user_id)
            if rollback:
                raise Rollback
    except Rollback:
        pass


# In a worker thread whose database connection is closed afterwards (like a request's).
awrite = database_sync_to_async(write)


def origin(server: Server) -> str:
    return server.http_url


def test_session_cookie_subscribes_and_receives_committed_events_only(realm: Realm, server: Server) -> None:
    org = realm.alice.organization

    async def scenario() -> None:
        client = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
        subscribed = await client.subscribe()
        assert subscribed.keys() == {"type", "organization", "role", "seq"}
        assert (subscribed["organization"], subscribed["role"]) == (org.slug, "owner")
        s0 = subscribed["seq"]  # the organization's latest id (creating it may have announced some)

        await awrite(org.id, "contact.created", {"id": 1, "name": "Ada"}, rollback=True)
        await awrite(org.id, "contact.created", {"id": 2, "name": "Grace"})
        event = await client.next()
        # The rolled-back write neither reached the socket nor took a sequence id.
        assert event["type"] == "event"
        assert event["seq"] == s0 + 1
        assert event["event"] == "contact.created"
        assert event["data"] == {"id": 2, "name": "Grace"}
        assert event["at"].endswith("Z")

        await client.send({"type": "ping"})
        assert await client.next() == {"type": "pong", "seq": s0 + 1}
        await client.close()

    asyncio.run(scenario())


def test_refusals_carry_close_codes(realm: Realm, server: Server) -> None:
    async def refused(message: dict[str, Any] | str, **kwargs: Any) -> tuple[int | None, str]:
        client = await Client.open(server.ws_url, **kwargs)
        if isinstance(message, str):
            await client.ws.send(message)
        else:
            await client.send(message)
        return await client.closed_with()

    async def scenario() -> None:
        assert await refused({"type": "subscribe"}) == (
            4401,
            "send a ticket or connect with a session cookie",
        )
        assert await refused({"type": "subscribe", "ticket": "forged:ticket"}) == (4401, "invalid ticket")
        stale = "sessionid=not-a-session"
        assert await refused({"type": "subscribe"}, cookie=stale, origin=origin(server)) == (
            4401,
            "not signed in",
        )
        # A signed-in cookie is refused without an Origin or from another site's page.
        assert (await refused({"type": "subscribe"}, cookie=realm.alice.cookie))[0] == 4403
        code, reason = await refused(
            {"type": "subscribe"}, cookie=realm.alice.cookie, origin="https://evil.example"
        )
        assert (code, reason) == (4403, "origin not allowed for cookie authentication")
        # Another organization's events are not for Alice.
        code, reason = await refused(
            {"type": "subscribe", "organization": realm.bob.organization.slug},
            cookie=realm.alice.cookie,
            origin=origin(server),
        )
        assert (code, reason) == (4403, "not a member of this organization")
        assert (await refused("not json"))[0] == 4400
        assert (await refused({"type": "shout"}))[0] == 4400
        assert (await refused({"type": "subscribe", "last_seq": -1}))[0] == 4400

    asyncio.run(scenario())


def test_socket_without_subscribe_is_closed(realm: Realm) -> None:
    with asgi_server(realm.env(REALTIME_SUBSCRIBE_TIMEOUT_SECONDS="0.5"), realm.log_dir) as server:

        async def scenario() -> tuple[int | None, str]:
            client = await Client.open(server.ws_url)
            return await client.closed_with()

        assert asyncio.run(scenario()) == (4408, "no subscribe message in time")


def test_shutdown_closes_sockets_with_service_restart(realm: Realm) -> None:
    with asgi_server(realm.env(), realm.log_dir) as server:

        async def scenario() -> tuple[int | None, str]:
            client = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
            await client.subscribe()
            server.process.send_signal(signal.SIGTERM)
            return await client.closed_with()

        code, _reason = asyncio.run(scenario())
        server.process.wait(timeout=15)
    assert code == 1012  # service restart: reconnect (to another replica) and resume from last_seq
    assert "Application shutdown complete" in server.output()


def test_idle_sockets_hold_no_database_connection(realm: Realm) -> None:
    server = realm.replicas.a

    def connections() -> int:
        with psycopg.connect(suite_database_url()) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (realm.replicas.application_name,),
            ).fetchone()
        assert row is not None
        return int(row[0])

    async def scenario() -> tuple[int, int]:
        clients = [
            await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
            for _ in range(20)
        ]
        s0 = [(await client.subscribe())["seq"] for client in clients][-1]
        # Authentication used the database; it must have given the connection back.
        idle = await sync_to_async(connections)()
        await awrite(
            realm.alice.organization.id,
            "deal.moved",
            {"id": 7, "from_stage": 1, "to_stage": 2, "pipeline": 3},
        )
        for client in clients:
            assert (await client.next())["seq"] == s0 + 1
        delivering = await sync_to_async(connections)()
        for client in clients:
            await client.close()
        return idle, delivering

    assert asyncio.run(scenario()) == (0, 0)


def test_events_for_one_user_reach_only_that_users_sockets(realm: Realm) -> None:
    org = realm.alice.organization
    carol = User.objects.create_user("carol@acme.example", "a-long-password-1")
    membership_set(org=org, user=carol, role=Role.VIEWER)
    carol_cookie = sign_in(carol)
    server = realm.replicas.b

    async def scenario() -> None:
        alice = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
        carol_ws = await Client.open(server.ws_url, cookie=carol_cookie, origin=origin(server))
        s0 = (await alice.subscribe())["seq"]
        assert (await carol_ws.subscribe())["role"] == "viewer"

        notification = {
            "id": 1,
            "user_id": carol.pk,
            "kind": "reminder",
            "title": "Call Ada",
            "body": "",
            "target_type": "contact",
            "target_id": 2,
            "reminder_id": None,
            "read_at": None,
            "created_at": "2026-01-01T00:00:00Z",
        }
        await awrite(org.id, "notification.created", notification, user_id=carol.pk)
        await awrite(org.id, "contact.created", {"id": 2, "name": "Ada"})
        mine = await carol_ws.next()
        assert (mine["seq"], mine["event"], mine["data"]["title"]) == (
            s0 + 1,
            "notification.created",
            "Call Ada",
        )
        assert (await carol_ws.next())["seq"] == s0 + 2
        # Alice's next message is the organization-wide event: Carol's notification skipped her.
        assert [(m := await alice.next())["seq"], m["event"]] == [s0 + 2, "contact.created"]

        # Catching up applies the same rule.
        late = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
        await late.subscribe(last_seq=s0)
        assert (await late.next())["seq"] == s0 + 2
        await late.send({"type": "ping"})
        assert await late.next() == {"type": "pong", "seq": s0 + 2}
        for client in (alice, carol_ws, late):
            await client.close()

    asyncio.run(scenario())


def test_heartbeats_repair_lost_messages_and_recheck_access(realm: Realm) -> None:
    org = realm.alice.organization
    env = realm.env(REALTIME_HEARTBEAT_SECONDS="0.3", REALTIME_REAUTH_SECONDS="0.6")
    with asgi_server(env, realm.log_dir) as server:

        async def scenario() -> None:
            client = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=origin(server))
            s0 = (await client.subscribe())["seq"]
            beat = await client.next(skip_heartbeats=False)
            assert beat == {"type": "heartbeat", "seq": s0}

            # An event logged whose channel-layer message never came (a lost pub/sub message)
            # still arrives, at the next heartbeat, before the heartbeat itself.
            head, tail = '{"type":"event","seq":', ',"event":"contact.updated","data":{"id":9}}'
            await sync_to_async(get_store().append)(org.id, head, tail)
            healed = await client.next(skip_heartbeats=False)
            while healed["type"] == "heartbeat":  # ticks that came before the append
                assert healed["seq"] == s0
                healed = await client.next(skip_heartbeats=False)
            assert (healed["type"], healed["seq"], healed["data"]) == ("event", s0 + 1, {"id": 9})
            assert await client.next(skip_heartbeats=False) == {"type": "heartbeat", "seq": s0 + 1}

            # A change that announces nothing (a bulk update sends no signal) is caught by the
            # periodic access check.
            deactivate = User.objects.filter(pk=realm.alice.user.pk).update
            await database_sync_to_async(deactivate)(is_active=False)
            assert await client.closed_with() == (4401, "the account was deactivated")

        asyncio.run(scenario())
