"""Two ws processes behind one Redis: cross-replica delivery, tenant isolation and catch-up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stratus.realtime.tests.conftest import Realm
from stratus.realtime.tests.harness import Client
from stratus.realtime.tests.test_protocol import awrite

pytestmark = pytest.mark.cluster


def test_write_on_one_replica_reaches_sockets_on_the_other_only_for_its_organization(realm: Realm) -> None:
    acme, globex = realm.alice.organization, realm.bob.organization
    server_a, server_b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        alice_b = await Client.open(server_b.ws_url, cookie=realm.alice.cookie, origin=server_b.http_url)
        alice_a = await Client.open(server_a.ws_url, cookie=realm.alice.cookie, origin=server_a.http_url)
        bob_b = await Client.open(server_b.ws_url, cookie=realm.bob.cookie, origin=server_b.http_url)
        for client in (alice_a, alice_b, bob_b):
            await client.subscribe()

        await awrite(acme.id, "contact.updated", {"id": 11, "email": "ada@acme.example"})
        for client in (alice_a, alice_b):
            event = await client.next()
            assert (event["seq"], event["event"], event["data"]["id"]) == (1, "contact.updated", 11)

        # Bob's first message is Globex's own event: Acme's never reached him.
        await awrite(globex.id, "deal.moved", {"id": 5, "stage": "won"})
        event = await bob_b.next()
        assert (event["seq"], event["event"]) == (1, "deal.moved")
        assert event["data"] == {"id": 5, "stage": "won"}
        for client in (alice_a, alice_b, bob_b):
            await client.close()

    asyncio.run(scenario())


def test_reconnect_with_last_seq_replays_exactly_the_missed_events_in_order(realm: Realm) -> None:
    org = realm.alice.organization
    server_a, server_b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        first = await Client.open(server_a.ws_url, cookie=realm.alice.cookie, origin=server_a.http_url)
        await first.subscribe()
        for n in (1, 2):
            await awrite(org.id, "activity.created", {"n": n})
        seen = [(await first.next())["seq"] for _ in range(2)]
        assert seen == [1, 2]
        await first.close()

        for n in (3, 4, 5):
            await awrite(org.id, "activity.created", {"n": n})

        again = await Client.open(server_b.ws_url, cookie=realm.alice.cookie, origin=server_b.http_url)
        subscribed = await again.subscribe(last_seq=seen[-1])
        assert subscribed["seq"] == 5
        missed = [await again.next() for _ in range(3)]
        assert [(m["seq"], m["data"]["n"]) for m in missed] == [(3, 3), (4, 4), (5, 5)]

        # Then it continues live, with no duplicate of what was replayed.
        await awrite(org.id, "activity.created", {"n": 6})
        live = await again.next()
        assert (live["type"], live["seq"], live["data"]["n"]) == ("event", 6, 6)
        await again.close()

    asyncio.run(scenario())


def test_gap_older_than_retention_gets_resync(realm: Realm, settings: Any) -> None:
    org = realm.alice.organization
    server = realm.replicas.b
    settings.REALTIME_RETENTION_EVENTS = 3  # the publisher trims the log as it appends

    async def scenario() -> None:
        for n in range(1, 7):
            await awrite(org.id, "company.created", {"n": n})
        # Events 4..6 are retained: a client at 3 catches up, one at 1 must resync.
        caught_up = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await caught_up.subscribe(last_seq=3)
        assert [(await caught_up.next())["seq"] for _ in range(3)] == [4, 5, 6]

        behind = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await behind.subscribe(last_seq=1)
        resync = await behind.next()
        assert resync["type"] == "resync"
        assert resync["seq"] == 6

        # A client ahead of the log (the log was reset) cannot be patched either.
        ahead = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await ahead.subscribe(last_seq=99)
        assert (await ahead.next())["type"] == "resync"

        # After a resync, live events continue from the announced sequence id.
        await awrite(org.id, "company.created", {"n": 7})
        for client in (caught_up, behind, ahead):
            assert (await client.next())["seq"] == 7
            await client.close()

    asyncio.run(scenario())
