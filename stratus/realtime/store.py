"""The per-organization event log: sequence ids and retention for catch-up.

Every delivered event gets the next sequence id of its organization and is kept
for a while (by count and by age), so a client that reconnects with the last id
it saw receives exactly what it missed. With Redis, the counter and a stream per
organization are updated by one Lua script (atomic, one round trip); without it
(the embedded default, one process) the same rules run in memory.

The publish path is synchronous (it runs in ``transaction.on_commit``); the
WebSocket side reads asynchronously and never touches the database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


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
# (msgpack of the message dict) on its group channel.
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
  local message = {type = 'realtime.event', organization = tonumber(ARGV[7]), seq = seq, text = text}
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
        self._sync = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
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
            client = aioredis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
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


class MemoryEventStore:
    """The embedded default's log: one process serves every socket, so memory is enough."""

    def __init__(self, max_events: int, max_age_seconds: int) -> None:
        self.max_events = max_events
        self.max_age = float(max_age_seconds)
        self._lock = threading.Lock()
        self._counters: dict[int, int] = {}
        self._logs: dict[int, deque[tuple[float, Logged]]] = {}
        self._claims: dict[str, float] = {}

    def _trim(self, log: deque[tuple[float, Logged]], now: float) -> None:
        while log and (len(log) > self.max_events or log[0][0] < now - self.max_age):
            log.popleft()

    def append(
        self,
        organization_id: int,
        head: str,
        tail: str,
        recipient: int | None = None,
        publish_to: str | None = None,
    ) -> tuple[int, str]:
        if publish_to is not None:
            raise ValueError("the in-memory log does not publish; use the channel layer")
        now = time.monotonic()
        with self._lock:
            seq = self._counters.get(organization_id, 0) + 1
            self._counters[organization_id] = seq
            text = f"{head}{seq}{tail}"
            log = self._logs.setdefault(organization_id, deque())
            log.append((now, Logged(seq, text, recipient)))
            self._trim(log, now)
        return seq, text

    async def current(self, organization_id: int) -> int:
        with self._lock:
            return self._counters.get(organization_id, 0)

    async def since(self, organization_id: int, after: int, limit: int) -> Backlog:
        now = time.monotonic()
        with self._lock:
            current = self._counters.get(organization_id, 0)
            log = self._logs.get(organization_id, deque())
            self._trim(log, now)
            events = [logged for _at, logged in log if logged.seq > after][:limit]
        return _backlog(current, after, events)

    async def claim(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
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
    return MemoryEventStore(settings.REALTIME_RETENTION_EVENTS, settings.REALTIME_RETENTION_SECONDS)


@receiver(setting_changed)
def _reset_store(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("REALTIME_"):
        get_store.cache_clear()
