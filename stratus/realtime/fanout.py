"""One channel-layer subscription per ws process, fanned out to that process's sockets.

Giving each socket its own channel would cost, per event and socket, a pub/sub delivery,
a message decode and a dispatch; with a thousand sockets that is most of the delivery
time. Instead each process joins an organization's group once (when its first socket for
that organization subscribes), decodes each event once, and hands it to the sockets of
that organization, each of which sends from its own queue so a slow client delays only
itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.layers import get_channel_layer

from stratus.realtime.events import organization_group

logger = logging.getLogger("stratus.realtime")


class Listener(Protocol):
    def offer(self, message: dict[str, Any]) -> None: ...


class Fanout:
    def __init__(self) -> None:
        self._members: dict[int, set[Listener]] = {}
        self._channel: str | None = None
        self._pump: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def join(self, organization_id: int, listener: Listener) -> None:
        layer = get_channel_layer()
        if layer is None:
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
            for listener in tuple(self._members.get(message.get("organization", -1), ())):
                listener.offer(message)


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}


def get_fanout() -> Fanout:
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout()
    return fanout
