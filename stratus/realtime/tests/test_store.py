"""The event log (Redis and database) and publish's commit semantics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import transaction

from stratus.realtime.events import publish
from stratus.realtime.store import DatabaseEventStore, EventStore, RedisEventStore, get_store


def redis_url() -> str:
    url = django_settings.REALTIME_REDIS_URL
    if not url:
        pytest.fail("set REDIS_URL (or REALTIME_REDIS_URL): the event log is tested on real Redis")
    return url


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url())
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(
    params=[
        "redis",
        # Committed rows: the async reads run on another thread's connection.
        pytest.param("database", marks=pytest.mark.django_db(transaction=True)),
    ]
)
def make_store(request: pytest.FixtureRequest, prefix: str) -> Any:
    def make(max_events: int = 100, max_age_seconds: int = 600) -> EventStore:
        if request.param == "redis":
            return RedisEventStore(redis_url(), prefix, max_events, max_age_seconds)
        return DatabaseEventStore(max_events, max_age_seconds)

    return make


def texts(store: EventStore, org: int, after: int, limit: int = 100) -> tuple[list[int], bool, int]:
    backlog = asyncio.run(store.since(org, after, limit))
    return [logged.seq for logged in backlog.events], backlog.complete, backlog.current


def test_sequence_ids_are_per_organization_and_embedded_in_the_stored_text(make_store: Any) -> None:
    store = make_store()
    assert store.append(1, '{"seq":', "}") == (1, '{"seq":1}')
    assert store.append(1, '{"seq":', "}") == (2, '{"seq":2}')
    assert store.append(2, '{"seq":', "}", 42) == (1, '{"seq":1}')
    assert asyncio.run(store.current(1)) == 2
    assert asyncio.run(store.current(3)) == 0
    backlog = asyncio.run(store.since(1, 0, 10))
    assert backlog.events == [(1, '{"seq":1}', None), (2, '{"seq":2}', None)]
    assert asyncio.run(store.since(2, 0, 10)).events == [(1, '{"seq":1}', 42)]


def test_since_reports_gaps_beyond_retention_by_count(make_store: Any) -> None:
    store = make_store(max_events=3)
    for _ in range(5):
        store.append(7, "", "")
    assert texts(store, 7, 2) == ([3, 4, 5], True, 5)
    assert texts(store, 7, 5) == ([], True, 5)
    assert texts(store, 7, 1) == ([], False, 5)  # event 2 is gone
    assert texts(store, 7, 9) == ([], False, 5)  # ahead of the log: it was reset
    assert texts(store, 7, 2, limit=2) == ([3, 4], True, 5)


def test_events_older_than_retention_age_are_dropped(make_store: Any) -> None:
    store = make_store(max_age_seconds=1)
    store.append(4, "", "")
    store.append(4, "", "")
    time.sleep(1.2)
    store.append(4, "", "")
    assert texts(store, 4, 0) == ([], False, 3)
    assert texts(store, 4, 2) == ([3], True, 3)


def test_tickets_can_be_claimed_once(make_store: Any) -> None:
    store = make_store()
    assert asyncio.run(store.claim("ticket:abc", 30)) is True
    assert asyncio.run(store.claim("ticket:abc", 30)) is False
    assert asyncio.run(store.claim("ticket:def", 30)) is True


@pytest.mark.django_db(transaction=True)
def test_database_log_is_polled_in_append_order_from_any_process_view() -> None:
    store = DatabaseEventStore(100, 600)
    start, nothing = asyncio.run(store.poll(None, 10))
    assert nothing == []
    appended_from = time.time()
    store.append(1, '{"seq":', "}")
    store.append(2, '{"seq":', "}", 42)
    store.append(1, '{"seq":', "}")
    appended_until = time.time()
    after, found = asyncio.run(store.poll(start, 2))
    assert [(org, event) for org, event, _at in found] == [
        (1, (1, '{"seq":1}', None)),
        (2, (1, '{"seq":1}', 42)),
    ]
    assert all(appended_from <= at <= appended_until for _org, _event, at in found)
    last, rest = asyncio.run(store.poll(after, 10))
    assert [(org, event) for org, event, _at in rest] == [(1, (2, '{"seq":2}', None))]
    assert asyncio.run(store.poll(last, 10)) == (last, [])


@pytest.mark.django_db(transaction=True)
def test_database_log_never_reuses_a_retained_sequence_id() -> None:
    from stratus.realtime.models import EventCounter

    store = DatabaseEventStore(100, 600)
    for _ in range(3):
        store.append(9, "", "")
    EventCounter.objects.filter(pk=9).delete()
    assert store.append(9, "", "")[0] == 4


def test_lost_counter_never_reuses_a_retained_sequence_id(prefix: str) -> None:
    store = RedisEventStore(redis_url(), prefix, 100, 600)
    for _ in range(3):
        store.append(9, "", "")
    redis.Redis.from_url(redis_url()).delete(f"{prefix}:realtime:{{9}}:seq")
    assert store.append(9, "", "")[0] == 4


@pytest.fixture
def redis_log(settings: Any, prefix: str) -> EventStore:
    settings.REALTIME_REDIS_URL = redis_url()
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_store()


@pytest.mark.django_db(transaction=True)
def test_publish_logs_on_commit_only(redis_log: EventStore) -> None:
    with transaction.atomic():
        publish(organization_id=3, event="contact.created", data={"id": 1, "name": "Ada"})
        assert asyncio.run(redis_log.current(3)) == 0  # nothing before commit
    assert asyncio.run(redis_log.current(3)) == 1

    def failing_write() -> None:
        with transaction.atomic():
            publish(organization_id=3, event="contact.deleted", data={"id": 1})
            raise RuntimeError("the write failed")

    def failing_inner_write() -> None:
        with transaction.atomic():  # a savepoint rolled back
            publish(organization_id=3, event="contact.updated", data={"id": 1, "fields": ["name"]})
            raise RuntimeError("inner write failed")

    with pytest.raises(RuntimeError):
        failing_write()
    assert asyncio.run(redis_log.current(3)) == 1

    with transaction.atomic():
        with pytest.raises(RuntimeError):
            failing_inner_write()
        publish(
            organization_id=3,
            event="deal.moved",
            data={"id": 2, "from_stage": 4, "to_stage": 5, "pipeline": 6},
        )
    backlog = asyncio.run(redis_log.since(3, 0, 10))
    messages = [json.loads(logged.text) for logged in backlog.events]
    assert [(m["seq"], m["event"]) for m in messages] == [(1, "contact.created"), (2, "deal.moved")]
    assert messages[1]["data"] == {"id": 2, "from_stage": 4, "to_stage": 5, "pipeline": 6}


@pytest.mark.django_db(transaction=True)
def test_unserialisable_data_fails_inside_the_transaction(redis_log: EventStore) -> None:
    with pytest.raises(TypeError), transaction.atomic():
        publish(organization_id=5, event="contact.created", data={"id": 1, "name": object()})
    assert asyncio.run(redis_log.current(5)) == 0


@pytest.mark.django_db(transaction=True)
def test_write_commits_when_live_updates_are_unreachable(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from stratus.accounts.models import Organization
    from testsupport.processes import free_port

    settings.REALTIME_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with transaction.atomic():
        Organization.objects.create(name="Initech", slug="initech")
        publish(organization_id=1, event="company.created", data={"id": 1, "name": "Initech"})
    # The change is kept; the failed announcement is logged (clients resync when they catch up).
    assert Organization.objects.filter(slug="initech").exists()
    failures = [r for r in caplog.records if "in on_commit()" in r.getMessage() and r.exc_info]
    assert len(failures) == 1, caplog.records


@pytest.mark.django_db(transaction=True)
def test_imports_announce_their_progress_per_committed_chunk(redis_log: EventStore, settings: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from stratus.accounts.models import User
    from stratus.accounts.services import organization_create
    from stratus.imports import services as imports

    settings.IMPORT_CHUNK_SIZE = 2
    owner = User.objects.create_user("importer@example.com")
    org = organization_create(name="Importers", owner=owner)
    start = asyncio.run(redis_log.current(org.pk))
    csv = "First Name,Last Name,E-mail\r\n" + "".join(f"P{n},L{n},p{n}@example.com\r\n" for n in range(5))
    job = imports.import_create(
        org=org, actor=owner, kind="contacts", upload=SimpleUploadedFile("c.csv", csv.encode(), "text/csv")
    )
    imports.import_run(job_id=job.pk)
    events = [json.loads(logged.text) for logged in asyncio.run(redis_log.since(org.pk, start, 100)).events]
    progress = [e["data"] for e in events if e["event"] == "import.progress"]
    assert [(p["rows_done"], p["state"]) for p in progress] == [
        (2, "running"),
        (4, "running"),
        (5, "running"),
        (5, "done"),
    ]
    assert progress[-1]["created"] == 5


@pytest.mark.subprocess
def test_a_restarted_redis_serves_the_first_commands_on_the_pooled_connections(tmp_path: Path) -> None:
    """After a Redis restart the pooled connections are closed sockets; no command may fail on them."""
    from testsupport.servers import redis_server

    with redis_server(tmp_path / "redis") as server:
        store = RedisEventStore(server.url, "restart", 100, 600)

        async def claim_and_read(key: str) -> tuple[bool, int]:
            return await store.claim(key, 30), await store.current(1)

        loop = asyncio.new_event_loop()
        try:
            assert store.append(1, '{"seq":', "}") == (1, '{"seq":1}')
            assert loop.run_until_complete(claim_and_read("before")) == (True, 1)
            server.stop()
            server.start()  # append-only file: the log survives, the connections do not
            assert store.append(1, '{"seq":', "}") == (2, '{"seq":2}')
            assert loop.run_until_complete(claim_and_read("after")) == (True, 2)
        finally:
            loop.close()


def test_heartbeats_of_one_process_share_reads_of_the_log_head(settings: Any, prefix: str) -> None:
    from stratus.realtime.fanout import HEAD_MAX_AGE_SECONDS, Fanout

    settings.REALTIME_REDIS_URL = redis_url()
    settings.REALTIME_PREFIX = prefix
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    store = get_store()
    store.append(5, "", "")

    class Socket:
        def offer(self, message: dict[str, Any]) -> None:
            pass

    async def scenario() -> None:
        fanout = Fanout()
        await fanout.join(5, Socket())
        assert await asyncio.gather(*(fanout.head(5) for _ in range(50))) == [1] * 50
        store.append(5, "", "")
        assert await fanout.head(5) == 1  # the read of a moment ago serves every socket
        await asyncio.sleep(HEAD_MAX_AGE_SECONDS + 0.1)
        assert await fanout.head(5) == 2

    asyncio.run(scenario())
