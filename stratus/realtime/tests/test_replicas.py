"""Two ws processes behind one Redis: cross-replica delivery, tenant isolation and catch-up."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from stratus.accounts.models import Role
from stratus.accounts.services import token_create
from stratus.realtime.store import get_store
from stratus.realtime.tests.conftest import Realm
from stratus.realtime.tests.harness import Client
from stratus.realtime.tests.test_protocol import awrite

pytestmark = pytest.mark.cluster


def api_post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_api_write_on_one_replica_reaches_sockets_on_the_other_only_for_its_organization(
    realm: Realm,
) -> None:
    acme, globex = realm.alice.organization, realm.bob.organization
    server_a, server_b = realm.replicas.a, realm.replicas.b
    acme_token = token_create(org=acme, actor=realm.alice.user, name="it", role=Role.MEMBER).secret
    globex_token = token_create(org=globex, actor=realm.bob.user, name="it", role=Role.MEMBER).secret

    def create_contact(token: str, email: str) -> tuple[int, dict[str, Any]]:
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": email}
        return api_post(f"{server_a.http_url}/api/v1/contacts", token, body)

    async def scenario() -> None:
        alice_b = await Client.open(server_b.ws_url, cookie=realm.alice.cookie, origin=server_b.http_url)
        alice_a = await Client.open(server_a.ws_url, cookie=realm.alice.cookie, origin=server_a.http_url)
        bob_b = await Client.open(server_b.ws_url, cookie=realm.bob.cookie, origin=server_b.http_url)
        acme_s0 = (await alice_a.subscribe())["seq"]
        await alice_b.subscribe()
        globex_s0 = (await bob_b.subscribe())["seq"]

        status, contact = await asyncio.to_thread(create_contact, acme_token, "ada@acme.example")
        assert status == 201, contact
        for client in (alice_a, alice_b):
            event = await client.next()
            assert (event["seq"], event["event"]) == (acme_s0 + 1, "contact.created")
            assert event["data"]["id"] == contact["id"]

        # A write the API refuses (the email is taken) is rolled back and announces nothing.
        status, problem = await asyncio.to_thread(create_contact, acme_token, "ada@acme.example")
        assert status == 400, problem
        status, second = await asyncio.to_thread(create_contact, acme_token, "grace@acme.example")
        assert status == 201, second
        event = await alice_b.next()
        assert (event["seq"], event["data"]["id"]) == (acme_s0 + 2, second["id"])

        # Bob's first message is Globex's own event: Acme's never reached him.
        status, theirs = await asyncio.to_thread(create_contact, globex_token, "ada@globex.example")
        assert status == 201, theirs
        event = await bob_b.next()
        assert (event["seq"], event["event"], event["data"]["id"]) == (
            globex_s0 + 1,
            "contact.created",
            theirs["id"],
        )
        for client in (alice_a, alice_b, bob_b):
            await client.close()

    asyncio.run(scenario())


def test_reconnect_with_last_seq_replays_exactly_the_missed_events_in_order(realm: Realm) -> None:
    org = realm.alice.organization
    server_a, server_b = realm.replicas.a, realm.replicas.b

    async def scenario() -> None:
        first = await Client.open(server_a.ws_url, cookie=realm.alice.cookie, origin=server_a.http_url)
        s0 = (await first.subscribe())["seq"]
        for n in (1, 2):
            await awrite(org.id, "contact.deleted", {"id": n})
        seen = [(await first.next())["seq"] for _ in range(2)]
        assert seen == [s0 + 1, s0 + 2]
        await first.close()

        for n in (3, 4, 5):
            await awrite(org.id, "contact.deleted", {"id": n})

        again = await Client.open(server_b.ws_url, cookie=realm.alice.cookie, origin=server_b.http_url)
        subscribed = await again.subscribe(last_seq=seen[-1])
        assert subscribed["seq"] == s0 + 5
        missed = [await again.next() for _ in range(3)]
        assert [(m["seq"] - s0, m["data"]["id"]) for m in missed] == [(3, 3), (4, 4), (5, 5)]

        # Then it continues live, with no duplicate of what was replayed.
        await awrite(org.id, "contact.deleted", {"id": 6})
        live = await again.next()
        assert (live["type"], live["seq"] - s0, live["data"]["id"]) == ("event", 6, 6)
        await again.close()

    asyncio.run(scenario())


def test_gap_older_than_retention_gets_resync(realm: Realm, settings: Any) -> None:
    org = realm.alice.organization
    server = realm.replicas.b
    settings.REALTIME_RETENTION_EVENTS = 3  # the publisher trims the log as it appends

    async def scenario() -> None:
        s0 = await get_store().current(org.id)
        for n in range(1, 7):
            await awrite(org.id, "company.deleted", {"id": n})
        # Events 4..6 are retained: a client at 3 catches up, one at 1 must resync.
        caught_up = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await caught_up.subscribe(last_seq=s0 + 3)
        assert [(await caught_up.next())["seq"] - s0 for _ in range(3)] == [4, 5, 6]

        behind = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await behind.subscribe(last_seq=s0 + 1)
        resync = await behind.next()
        assert resync["type"] == "resync"
        assert resync["seq"] == s0 + 6

        # A client ahead of the log (the log was reset) cannot be patched either.
        ahead = await Client.open(server.ws_url, cookie=realm.alice.cookie, origin=server.http_url)
        await ahead.subscribe(last_seq=s0 + 99)
        assert (await ahead.next())["type"] == "resync"

        # After a resync, live events continue from the announced sequence id.
        await awrite(org.id, "company.deleted", {"id": 7})
        for client in (caught_up, behind, ahead):
            assert (await client.next())["seq"] == s0 + 7
            await client.close()

    asyncio.run(scenario())
