"""The `/ws/` endpoint: one socket subscribes to one organization's events.

The socket is accepted at once so refusals can carry a close code. The client
then sends ``subscribe`` (with a ticket, or relying on its session cookie),
optionally with the last sequence id it saw; the server answers ``subscribed``,
replays what was missed (or says ``resync``), then streams live events. Only
authentication and the access re-checks (on an access notice, when the socket's
token expires, and periodically) touch the database, each in a short
worker-thread call that releases its connection; delivery reads Redis.

Delivery per socket is gap-free and in order: an event whose sequence id is
ahead of the last one sent is preceded by the missing ones read from the log,
and the heartbeat compares with the log's head so a lost message is repaired
within one heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import timezone

from stratus.platform import json_depth, metrics
from stratus.realtime import auth
from stratus.realtime.auth import Refused, Subscription
from stratus.realtime.events import ACCESS_NOTICE_HEAD
from stratus.realtime.fanout import get_fanout
from stratus.realtime.store import get_store

logger = logging.getLogger("stratus.realtime")

CATCH_UP_PAGE = 500
CLOSE_TOO_SLOW = 1013  # "try again later"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


# Sockets get no channel of their own: the process's Fanout holds one subscription per
# organization and hands events to them (an alias that names no layer means "no channel").
NO_OWN_CHANNEL = "stratus.realtime.fanout-only"
# Events queued for a socket that does not read them; beyond this it is closed (1013) and
# catches up from the log when it reconnects.
MAX_QUEUED_EVENTS = 1000


class EventsConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_OWN_CHANNEL
    subscription: Subscription | None
    last_seq: int

    async def connect(self) -> None:
        self.subscription = None
        self.last_seq = 0
        self.delivery = asyncio.Lock()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.background: list[asyncio.Task[None]] = []
        self.closing = False
        self.next_reauth = math.inf
        self.checked_seq = 0  # access was re-checked after every notice up to this sequence id
        await self.accept()
        self.counted = True
        metrics.WS_CONNECTIONS.inc()
        self.background.append(asyncio.create_task(self._expect_subscribe()))

    async def disconnect(self, code: int) -> None:
        self.closing = True
        if getattr(self, "counted", False):
            self.counted = False
            metrics.WS_CONNECTIONS.dec()
        for task in self.background:
            task.cancel()
        if self.subscription is not None:
            await get_fanout().leave(self.subscription.organization_id, self)

    async def refuse(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        await self.close(code=code, reason=reason)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        if text_data is not None or bytes_data is not None:
            metrics.WS_MESSAGES.inc()
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    # --- client messages ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        try:
            message = json_depth.loads(text_data or "")
        except json_depth.JsonTooDeep as error:
            await self.refuse(auth.CLOSE_BAD_REQUEST, str(error))
            return
        except ValueError:
            await self.refuse(auth.CLOSE_BAD_REQUEST, "messages must be JSON text")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong", "seq": self.last_seq})
        elif kind == "subscribe":
            await self._subscribe(message)
        else:
            await self.refuse(auth.CLOSE_BAD_REQUEST, f"unknown message type: {kind!r}")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if self.subscription is not None:
            await self.refuse(auth.CLOSE_BAD_REQUEST, "already subscribed")
            return
        last_seq = message.get("last_seq")
        slug = message.get("organization")
        ticket = message.get("ticket")
        valid_seq = isinstance(last_seq, int) and not isinstance(last_seq, bool) and last_seq >= 0
        if last_seq is not None and not valid_seq:
            await self.refuse(auth.CLOSE_BAD_REQUEST, "last_seq must be a non-negative integer")
            return
        if slug is not None and not isinstance(slug, str):
            await self.refuse(auth.CLOSE_BAD_REQUEST, "organization must be a slug")
            return
        try:
            self.subscription = await self._authenticate(ticket, slug)
        except Refused as refused:
            await self.refuse(refused.code, refused.reason)
            return
        except Exception:
            logger.exception("could not authenticate a socket")
            await self.refuse(auth.CLOSE_SERVER_ERROR, "live updates are unavailable; retry later")
            return
        subscription = self.subscription
        store = get_store()
        try:
            # Join before reading the log, so nothing falls between the two.
            await get_fanout().join(subscription.organization_id, self)
            async with self.delivery:
                current = await store.current(subscription.organization_id)
                await self.send_json(
                    {
                        "type": "subscribed",
                        "organization": subscription.organization_slug,
                        "role": subscription.role,
                        "seq": current,
                    }
                )
                if last_seq is None:
                    self.last_seq = current
                else:
                    self.last_seq = last_seq
                    if await self._catch_up() and not await self._reauthorise():
                        return
        except Exception:
            logger.exception("subscribe failed for organization %s", subscription.organization_id)
            await self.refuse(auth.CLOSE_SERVER_ERROR, "live updates are unavailable; retry later")
            return
        # Spread the periodic access re-checks of sockets opened together (sooner if a check
        # while catching up could not run).
        spread = time.monotonic() + settings.REALTIME_REAUTH_SECONDS * random.uniform(0.5, 1.0)
        self.next_reauth = min(self.next_reauth, spread)
        self.background.append(asyncio.create_task(self._heartbeat()))
        self.background.append(asyncio.create_task(self._drain()))

    async def _authenticate(self, ticket: Any, slug: str | None) -> Subscription:
        if ticket is not None:
            if not isinstance(ticket, str):
                raise Refused(auth.CLOSE_BAD_REQUEST, "ticket must be a string")
            payload = auth.read_ticket(ticket)
            ttl = settings.REALTIME_TICKET_TTL_SECONDS + 5
            if not await get_store().claim(f"ticket:{payload['n']}", ttl):
                raise Refused(auth.CLOSE_UNAUTHENTICATED, "ticket already used")
            return await database_sync_to_async(auth.authenticate_ticket)(payload, slug)
        cookies = parse_cookie(_header(self.scope, b"cookie") or "")
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            raise Refused(auth.CLOSE_UNAUTHENTICATED, "send a ticket or connect with a session cookie")
        if not auth.origin_allowed(_header(self.scope, b"origin"), _header(self.scope, b"host")):
            raise Refused(auth.CLOSE_FORBIDDEN, "origin not allowed for cookie authentication")
        return await database_sync_to_async(auth.authenticate_session)(session_key, slug)

    async def _expect_subscribe(self) -> None:
        await asyncio.sleep(settings.REALTIME_SUBSCRIBE_TIMEOUT_SECONDS)
        if self.subscription is None:
            await self.refuse(auth.CLOSE_SUBSCRIBE_TIMEOUT, "no subscribe message in time")

    # --- delivery ----------------------------------------------------------------------------

    def offer(self, message: dict[str, Any]) -> None:
        """Called by the process's Fanout for each event of this socket's organization."""
        if self.closing:
            return
        if self.inbox.qsize() >= MAX_QUEUED_EVENTS:
            self.background.append(
                asyncio.create_task(
                    self.refuse(CLOSE_TOO_SLOW, "too many unread events; reconnect with last_seq")
                )
            )
            return
        self.inbox.put_nowait(message)

    async def _drain(self) -> None:
        while True:
            message = await self.inbox.get()
            try:
                await self.realtime_event(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("event delivery failed", exc_info=True)

    async def realtime_event(self, message: dict[str, Any]) -> None:
        if self.subscription is None or self.closing:
            return
        seq = int(message["seq"])
        async with self.delivery:
            if seq <= self.last_seq:
                # Already sent while catching up, or older than the subscription. A notice for this
                # socket appended while it subscribed is such a one: it still needs a check.
                if seq > self.checked_seq and self._notice_for_me(message["text"], message.get("recipient")):
                    await self._reauthorise()
                return
            if seq > self.last_seq + 1 and await self._catch_up() and not await self._reauthorise():
                return
            if seq == self.last_seq + 1:
                text = message["text"]
                notice = self._notice_for_me(text, message.get("recipient"))
                if notice is None and self._for_me(message.get("recipient")):
                    await self.send(text_data=text)
                self.last_seq = seq
                if notice:
                    await self._reauthorise()

    def _for_me(self, recipient: int | None) -> bool:
        assert self.subscription is not None
        return recipient is None or recipient == self.subscription.user_id

    def _notice_for_me(self, text: str, recipient: int | None) -> bool | None:
        """None for an event; for an access notice, whether this socket must re-check its access
        (a notice about a token concerns only the sockets opened with it)."""
        if not text.startswith(ACCESS_NOTICE_HEAD):
            return None
        assert self.subscription is not None
        if recipient != self.subscription.user_id:
            return False
        token = json.loads(text).get("token")
        return token is None or token == self.subscription.token_id

    async def _reauthorise(self) -> bool:
        """Re-check the socket's access; close it if that ended, report a changed role.

        Called with ``self.delivery`` held, so no event is sent while the check runs. False when
        the socket was closed. A check that cannot run (database unreachable) keeps the socket
        and is repeated at the next periodic check.
        """
        assert self.subscription is not None
        through = self.last_seq  # every notice up to here committed before this check reads
        try:
            current = await database_sync_to_async(auth.recheck)(self.subscription)
            self.checked_seq = max(self.checked_seq, through)
        except Refused as refused:
            await self.refuse(refused.code, refused.reason)
            return False
        except Exception:
            logger.warning("could not re-check a socket's access", exc_info=True)
            self.next_reauth = min(self.next_reauth, time.monotonic() + settings.REALTIME_HEARTBEAT_SECONDS)
            return True
        previous, self.subscription = self.subscription, current
        if current.role != previous.role:
            await self.send_json({"type": "access", "role": current.role})
        return True

    async def _catch_up(self) -> bool:
        """Send every retained event after last_seq in order, or ``resync`` if some are gone.

        True when an access notice for this socket was among them (the caller re-checks).
        """
        assert self.subscription is not None
        store = get_store()
        noticed = False
        metrics.WS_CATCH_UP.inc()
        while True:
            backlog = await store.since(self.subscription.organization_id, self.last_seq, CATCH_UP_PAGE)
            if not backlog.complete:
                await self.send_json(
                    {
                        "type": "resync",
                        "seq": backlog.current,
                        "reason": "events after your last_seq are no longer retained; reload from the API",
                    }
                )
                self.last_seq = backlog.current
                # Notices may be among what is gone: check rather than trust the subscription.
                return True
            for logged in backlog.events:
                notice = self._notice_for_me(logged.text, logged.recipient)
                if notice is None and self._for_me(logged.recipient):
                    metrics.WS_CATCH_UP_EVENTS.inc()
                    await self.send(text_data=logged.text)
                noticed = noticed or bool(notice)
                self.last_seq = logged.seq
            if len(backlog.events) < CATCH_UP_PAGE:
                return noticed

    def _token_expired(self) -> bool:
        assert self.subscription is not None
        expires_at = self.subscription.token_expires_at
        return expires_at is not None and expires_at <= timezone.now()

    async def _heartbeat(self) -> None:
        assert self.subscription is not None
        interval = settings.REALTIME_HEARTBEAT_SECONDS
        reauth_every = settings.REALTIME_REAUTH_SECONDS
        while not self.closing:
            await asyncio.sleep(interval)
            try:
                head = await get_fanout().head(self.subscription.organization_id)
                async with self.delivery:
                    noticed = head > self.last_seq and await self._catch_up()
                    # The periodic check is the safety net for changes that announce nothing
                    # (bulk updates, an expired session).
                    if noticed or self._token_expired() or time.monotonic() >= self.next_reauth:
                        self.next_reauth = time.monotonic() + reauth_every
                        if not await self._reauthorise():
                            return
                    await self.send_json({"type": "heartbeat", "seq": self.last_seq})
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("heartbeat failed", exc_info=True)


async def close_store_connections() -> None:
    store = get_store()
    close = getattr(store, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
