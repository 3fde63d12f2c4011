"""The per-organization event log: sequence ids and retention for catch-up.

Every delivered event gets the next sequence id of its organization and is kept
for a while (by count and by age), so a client that reconnects with the last id
it saw receives exactly what it missed. With Redis, the counter and a stream per
organization are updated by one Lua script (atomic, one round trip); without it
(the embedded default: a web process and a worker process) the same rules run on two
tables in the database, which the web process polls for events raised elsewhere.

The publish path is synchronous (it runs in ``transaction.on_commit``); the
WebSocket side reads asynchronously, and with Redis never touches the database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import redis
import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry


class Logged(NamedTuple):
    seq: int
    text: str
    recipient: int | None  # a user id when the event is for that user only


@dataclass(frozen=True)
class Backlog:
    """What an organization's log holds after a given sequence id.

    ``complete`` is False when some of those events are no longer retained (or the
    log was reset), in which case the client must resynchronise from the API.
    """

    current: int
    events: list[Logged]
    complete: bool


class EventStore(Protocol):
    def append(
        self,
        organization_id: int,
        head: str,
        tail: str,
        recipient: int | None = None,
        publish_to: str | None = None,
    ) -> tuple[int, str]:
        """Give the event the next sequence id; store ``head + seq + tail``; return both.

        ``publish_to``: a Redis pub/sub channel of the channel layer on the same Redis, to
        which the channel-layer message is published in the same atomic step.
        """

    async def current(self, organization_id: int) -> int: ...

    async def since(self, organization_id: int, after: int, limit: int) -> Backlog: ...

    async def claim(self, key: str, ttl: int) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds (single-use tickets)."""


# KEYS: counter, stream. ARGV: head, tail, max events, max age (ms), recipient user id or "",
# pub/sub channel or "", organization id. Publishing here, in the script, sends events in sequence order and
# costs no second round trip; the message is what channels_redis's pub/sub layer expects
# (msgpack of the message dict) on its group channel. Its ``logged_at`` (Unix seconds, Redis's
# clock) is when the event entered the log: the ws processes measure their lag from it.
# The stream entry id is "<seq>-0", so a catch-up is one XRANGE from "<last+1>-0".
APPEND_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if newest[1] then
  local newest_seq = tonumber(string.match(newest[1][1], '^(%d+)'))
  if seq <= newest_seq then
    seq = newest_seq + 1
    redis.call('SET', KEYS[1], seq)
  end
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local text = ARGV[1] .. seq .. ARGV[2]
local max_age = tonumber(ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', tonumber(ARGV[3]), seq .. '-0', 't', now, 'm', text, 'u', ARGV[5])
local cutoff = now - max_age
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if oldest[1] and tonumber(oldest[1][2][2]) < cutoff then
  local lo = tonumber(string.match(oldest[1][1], '^(%d+)'))
  local hi = seq
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local entry = redis.call('XRANGE', KEYS[2], mid .. '-0', mid .. '-0')
    if (not entry[1]) or tonumber(entry[1][2][2]) < cutoff then lo = mid + 1 else hi = mid end
  end
  redis.call('XTRIM', KEYS[2], 'MINID', lo .. '-0')
end
redis.call('PEXPIRE', KEYS[2], max_age)
if ARGV[6] ~= '' then
  local message = {
    type = 'realtime.event', organization = tonumber(ARGV[7]), seq = seq, text = text, logged_at = now / 1000
  }
  if ARGV[5] ~= '' then message['recipient'] = tonumber(ARGV[5]) end
  redis.call('PUBLISH', ARGV[6], cmsgpack.pack(message))
end
return {seq, text}
"""


def _seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[0])


class RedisEventStore:
    def __init__(self, url: str, prefix: str, max_events: int, max_age_seconds: int) -> None:
        self.url = url
        self.prefix = prefix
        self.max_events = max_events
        self.max_age_ms = max_age_seconds * 1000
        # Pooled connections outlive a Redis restart as closed sockets: a command that finds its
        # connection dropped is sent once more on a fresh one (timeouts are not retried).
        self._sync = redis.Redis.from_url(
            url,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.ConnectionError],
        )
        self._append = self._sync.register_script(APPEND_SCRIPT)
        self._async: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}

    def _keys(self, organization_id: int) -> tuple[str, str]:
        # The hash tag keeps both keys of an organization in one Redis Cluster slot.
        base = f"{self.prefix}:realtime:{{{organization_id}}}"
        return f"{base}:seq", f"{base}:events"

    def _client(self) -> aioredis.Redis:
        # Async connections belong to the event loop that opened them.
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=5,
                socket_connect_timeout=2,
                retry=AsyncRetry(NoBackoff(), 1),
                retry_on_error=[redis.ConnectionError],
            )
            self._async[loop] = client
        return client

    def append(
        self,
        organization_id: int,
        head: str,
        tail: str,
        recipient: int | None = None,
        publish_to: str | None = None,
    ) -> tuple[int, str]:
        seq, text = self._append(
            keys=self._keys(organization_id),
            args=[
                head,
                tail,
                self.max_events,
                self.max_age_ms,
                "" if recipient is None else recipient,
                publish_to or "",
                organization_id,
            ],
        )
        return int(seq), text.decode() if isinstance(text, bytes) else str(text)

    async def current(self, organization_id: int) -> int:
        value = await self._client().get(self._keys(organization_id)[0])
        return int(value or 0)

    async def since(self, organization_id: int, after: int, limit: int) -> Backlog:
        counter, stream = self._keys(organization_id)
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.get(counter)
            pipe.xrange(stream, min=f"{after + 1}-0", max="+", count=limit)
            raw_current, entries = await pipe.execute()
        current = int(raw_current or 0)
        events = [
            Logged(_seq_of(entry_id), fields[b"m"].decode(), int(fields[b"u"]) if fields.get(b"u") else None)
            for entry_id, fields in entries
        ]
        return _backlog(current, after, events)

    async def claim(self, key: str, ttl: int) -> bool:
        claimed = await self._client().set(f"{self.prefix}:realtime:claim:{key}", 1, nx=True, ex=ttl)
        return bool(claimed)

    async def aclose(self) -> None:
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _backlog(current: int, after: int, events: list[Logged]) -> Backlog:
    if after > current:
        # The log restarted below what the client saw: its state cannot be patched.
        return Backlog(current=current, events=[], complete=False)
    if after == current:
        return Backlog(current=current, events=[], complete=True)
    if not events or events[0][0] != after + 1:
        return Backlog(current=current, events=[], complete=False)
    return Backlog(current=current, events=events, complete=True)


class DatabaseEventStore:
    """The log without Redis (the embedded default): tables in the database, shared by processes.

    Events raised in the Celery worker reach the web process's sockets this way: the worker
    appends rows, and each ws event loop polls for rows newer than the last it saw
    (``poll``, every ``REALTIME_POLL_SECONDS``) and fans them out to its sockets. Events
    raised in the web process itself also go through the in-memory channel layer at once;
    a socket drops whichever copy arrives second (by ``seq``).

    New rows are found by their primary key. On SQLite (one writer at a time) keys become
    visible in order; where concurrent transactions may commit out of key order a row can
    be passed over by ``poll``, and the socket's gap check fetches it from the log at the
    next event or heartbeat, so it is late, never lost.

    Tickets are claimed in this process's memory: the embedded default has one web process.
    """

    def __init__(self, max_events: int, max_age_seconds: int) -> None:
        self.max_events = max_events
        self.max_age = timedelta(seconds=max_age_seconds)
        self._claims: dict[str, float] = {}
        self._claims_lock = threading.Lock()

    def append(
        self,
        organization_id: int,
        head: str,
        tail: str,
        recipient: int | None = None,
        publish_to: str | None = None,
    ) -> tuple[int, str]:
        from stratus.realtime.models import EventCounter, LoggedEvent

        if publish_to is not None:
            raise ValueError("the database log does not publish; use the channel layer")
        now = timezone.now()
        with transaction.atomic():
            # The UPDATE comes first, so the transaction holds the write lock (and the
            # counter row) before it reads anything: concurrent appends queue up here.
            if not EventCounter.objects.filter(pk=organization_id).update(seq=F("seq") + 1):
                try:
                    with transaction.atomic():
                        EventCounter.objects.create(pk=organization_id, seq=1)
                except IntegrityError:
                    EventCounter.objects.filter(pk=organization_id).update(seq=F("seq") + 1)
            seq = EventCounter.objects.filter(pk=organization_id).values_list("seq", flat=True).get()
            newest = (
                LoggedEvent.objects.filter(organization_id=organization_id)
                .order_by("-seq")
                .values("seq")
                .first()
            )
            if newest is not None and seq <= newest["seq"]:
                # A counter behind its log (restored from elsewhere): never reuse a retained id.
                seq = newest["seq"] + 1
                EventCounter.objects.filter(pk=organization_id).update(seq=seq)
            text = f"{head}{seq}{tail}"
            LoggedEvent.objects.create(
                organization_id=organization_id, seq=seq, text=text, recipient=recipient, created_at=now
            )
            LoggedEvent.objects.filter(organization_id=organization_id).filter(
                Q(seq__lte=seq - self.max_events) | Q(created_at__lt=now - self.max_age)
            ).delete()
        return seq, text

    def _current(self, organization_id: int) -> int:
        from stratus.realtime.models import EventCounter

        return EventCounter.objects.filter(pk=organization_id).values_list("seq", flat=True).first() or 0

    async def current(self, organization_id: int) -> int:
        return int(await database_sync_to_async(self._current)(organization_id))

    def _since(self, organization_id: int, after: int, limit: int) -> Backlog:
        from stratus.realtime.models import LoggedEvent

        rows = (
            LoggedEvent.objects.filter(
                organization_id=organization_id, seq__gt=after, created_at__gte=timezone.now() - self.max_age
            )
            .order_by("seq")
            .values_list("seq", "text", "recipient")[:limit]
        )
        events = [Logged(seq, text, recipient) for seq, text, recipient in rows]
        # Read after the rows (no transaction: on SQLite it would take the write lock), so the
        # counter is never behind them.
        current = self._current(organization_id)
        return _backlog(current, after, events)

    async def since(self, organization_id: int, after: int, limit: int) -> Backlog:
        return await database_sync_to_async(self._since)(organization_id, after, limit)

    def _poll(self, after_id: int | None, limit: int) -> tuple[int, list[tuple[int, Logged, float]]]:
        from stratus.realtime.models import LoggedEvent

        if after_id is None:
            newest = LoggedEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
            return newest or 0, []
        rows = list(
            LoggedEvent.objects.filter(pk__gt=after_id)
            .order_by("pk")
            .values_list("pk", "organization_id", "seq", "text", "recipient", "created_at")[:limit]
        )
        found = [
            (organization_id, Logged(seq, text, recipient), created_at.timestamp())
            for _pk, organization_id, seq, text, recipient, created_at in rows
        ]
        return (rows[-1][0] if rows else after_id), found

    async def poll(self, after_id: int | None, limit: int) -> tuple[int, list[tuple[int, Logged, float]]]:
        """Events appended (by any process) after row ``after_id``, as (organization id, event,
        when it was appended in Unix seconds).

        Returns the id to pass next time; with ``after_id`` None, only the current newest id.
        """
        return await database_sync_to_async(self._poll)(after_id, limit)

    async def claim(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._claims_lock:
            for stale in [k for k, until in self._claims.items() if until < now]:
                del self._claims[stale]
            if key in self._claims:
                return False
            self._claims[key] = now + ttl
            return True


@lru_cache(maxsize=1)
def get_store() -> EventStore:
    if settings.REALTIME_REDIS_URL:
        return RedisEventStore(
            settings.REALTIME_REDIS_URL,
            settings.REALTIME_PREFIX,
            settings.REALTIME_RETENTION_EVENTS,
            settings.REALTIME_RETENTION_SECONDS,
        )
    return DatabaseEventStore(settings.REALTIME_RETENTION_EVENTS, settings.REALTIME_RETENTION_SECONDS)


@receiver(setting_changed)
def _reset_store(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("REALTIME_"):
        get_store.cache_clear()
