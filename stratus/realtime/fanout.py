"""One channel-layer subscription per ws process, fanned out to that process's sockets.

Giving each socket its own channel would cost, per event and socket, a pub/sub delivery,
a message decode and a dispatch; with a thousand sockets that is most of the delivery
time. Instead each process joins an organization's group once (when its first socket for
that organization subscribes), decodes each event once, and hands it to the sockets of
that organization, each of which sends from its own queue so a slow client delays only
itself.

Without Redis (the embedded default) the channel layer is in memory and reaches only this
process; events raised in another process (the Celery worker) are read from the database
event log instead, by one poll per process every ``REALTIME_POLL_SECONDS``.

The live-event lag (``stratus_live_event_lag_seconds``) is measured here: from the moment an
event entered the log (``logged_at`` of the message) to the moment this process hands it to its
sockets, once per event, on the first copy that arrives. It grows when this process's event
loop cannot keep up, when Redis is slow to deliver, or when the database log is polled late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from stratus.platform import metrics
from stratus.realtime.events import EVENT_MESSAGE_TYPE, organization_group
from stratus.realtime.store import DatabaseEventStore, get_store

logger = logging.getLogger("stratus.realtime")

HEAD_MAX_AGE_SECONDS = 1.0


class Listener(Protocol):
    def offer(self, message: dict[str, Any]) -> None: ...


class Fanout:
    def __init__(self) -> None:
        self._members: dict[int, set[Listener]] = {}
        self._channel: str | None = None
        self._pump: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._heads: dict[int, tuple[float, int]] = {}  # organization -> (read at, head of its log)
        self._head_reads: dict[int, asyncio.Task[int]] = {}
        self._offered: dict[int, int] = {}  # organization -> highest sequence id handed out

    async def join(self, organization_id: int, listener: Listener) -> None:
        store = get_store()
        if isinstance(store, DatabaseEventStore):
            async with self._lock:
                if self._poller is None:
                    # The starting point is read before the socket reads the log's head, so
                    # every event after that head is either polled or caught up.
                    start, _ = await store.poll(None, 0)
                    self._poller = asyncio.create_task(self._poll(store, start))
        layer = get_channel_layer()
        if layer is None:
            self._members.setdefault(organization_id, set()).add(listener)
            return
        async with self._lock:
            if self._channel is None:
                self._channel = await layer.new_channel()
                self._pump = asyncio.create_task(self._run(self._channel))
            self._members.setdefault(organization_id, set()).add(listener)
            # Idempotent; repeating it also renews memberships that expire (in-memory layer).
            await layer.group_add(organization_group(organization_id), self._channel)

    async def leave(self, organization_id: int, listener: Listener) -> None:
        layer = get_channel_layer()
        async with self._lock:
            members = self._members.get(organization_id)
            if members is None:
                return
            members.discard(listener)
            if not members:
                del self._members[organization_id]
                self._heads.pop(organization_id, None)
                self._offered.pop(organization_id, None)
                if layer is not None and self._channel is not None:
                    await layer.group_discard(organization_group(organization_id), self._channel)

    async def _run(self, channel: str) -> None:
        layer = get_channel_layer()
        assert layer is not None
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Sockets repair what is missed from the event log at their next heartbeat.
                logger.exception("channel layer receive failed")
                await asyncio.sleep(1)
                continue
            self._offer(message)

    async def head(self, organization_id: int) -> int:
        """The latest sequence id in the organization's log, for the sockets' heartbeats.

        Read from the log at most about once a second per process, however many sockets
        ask: a thousand sockets' heartbeats cost a few reads, not a thousand. A lost message
        is still noticed within a heartbeat and a second.
        """
        now = time.monotonic()
        cached = self._heads.get(organization_id)
        if cached is not None and now - cached[0] < HEAD_MAX_AGE_SECONDS:
            return cached[1]
        read = self._head_reads.get(organization_id)
        if read is None:
            read = self._head_reads[organization_id] = asyncio.create_task(self._read_head(organization_id))
        # Shielded: a socket closing while it waits does not cancel the others' read.
        return await asyncio.shield(read)

    async def _read_head(self, organization_id: int) -> int:
        try:
            head = await get_store().current(organization_id)
            if organization_id in self._members:
                self._heads[organization_id] = (time.monotonic(), head)
            return head
        finally:
            del self._head_reads[organization_id]

    def _offer(self, message: dict[str, Any]) -> None:
        organization_id = message.get("organization", -1)
        listeners = tuple(self._members.get(organization_id, ()))
        if not listeners:
            return
        self._observe_lag(organization_id, message)
        for listener in listeners:
            listener.offer(message)

    def _observe_lag(self, organization_id: int, message: dict[str, Any]) -> None:
        """Once per event: a second copy (the embedded default's poll of an event the channel
        layer already brought) is not a delivery, and would count its own delay."""
        seq, logged_at = message.get("seq"), message.get("logged_at")
        if not isinstance(seq, int) or not isinstance(logged_at, int | float):
            return
        if seq <= self._offered.get(organization_id, 0):
            return
        self._offered[organization_id] = seq
        # Clocks of different hosts may disagree by a little: never a negative lag.
        metrics.LIVE_EVENT_LAG.observe(max(0.0, time.time() - logged_at))

    async def _poll(self, store: DatabaseEventStore, after: int) -> None:
        while True:
            try:
                after, found = await store.poll(after, 500)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reading the event log failed")
                await asyncio.sleep(1)
                continue
            for organization_id, logged, logged_at in found:
                self._offer(
                    {
                        "type": EVENT_MESSAGE_TYPE,
                        "organization": organization_id,
                        "seq": logged.seq,
                        "text": logged.text,
                        "recipient": logged.recipient,
                        "logged_at": logged_at,
                    }
                )
            if len(found) < 500:
                await asyncio.sleep(settings.REALTIME_POLL_SECONDS)


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}


def get_fanout() -> Fanout:
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout()
    return fanout
