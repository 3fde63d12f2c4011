"""The one door through which writes announce themselves to live clients.

Services call ``publish`` inside their transaction. Nothing leaves the process
until the transaction commits: a rolled-back change is never announced and
takes no sequence id. On commit the event gets the next sequence id of its
organization, is kept in the event log for catch-up, and is sent to the
organization's group on the channel layer, which reaches every ws process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from stratus.realtime import payloads
from stratus.realtime.store import RedisEventStore, get_store

logger = logging.getLogger("stratus.realtime")

EVENT_MESSAGE_TYPE = "realtime.event"
PUBSUB_BACKEND = "channels_redis.pubsub.RedisPubSubChannelLayer"
# A logged entry that starts with this is an access notice for the consumers, never sent to a client.
ACCESS_NOTICE_HEAD = '{"type":"access-notice","seq":'


def organization_group(organization_id: int) -> str:
    return f"org.{organization_id}"


def publish(*, organization_id: int, event: str, data: Mapping[str, Any], user_id: int | None = None) -> None:
    """Announce ``event`` (e.g. ``contact.created``) with a JSON-serialisable ``data`` to the org.

    With ``user_id`` (e.g. a reminder's notification) only that member's sockets receive it.
    ``event`` must be declared in ``stratus.realtime.payloads`` and ``data`` match its
    declaration (``PayloadError`` otherwise, which rolls back the caller's transaction).
    """
    payloads.check(event, data)
    # Serialised now, so data that cannot be sent fails inside the caller's transaction.
    data_json = json.dumps(dict(data), cls=DjangoJSONEncoder, separators=(",", ":"))
    event_json = json.dumps(event)

    def deliver() -> None:
        deliver_now(
            organization_id=organization_id, event_json=event_json, data_json=data_json, user_id=user_id
        )

    # robust: the change is committed whatever happens here; a delivery failure is logged,
    # and clients that missed it are told to resynchronise when they next catch up.
    transaction.on_commit(deliver, robust=True)


def deliver_now(*, organization_id: int, event_json: str, data_json: str, user_id: int | None = None) -> int:
    at = json.dumps(timezone.now().isoformat().replace("+00:00", "Z"))
    head = '{"type":"event","seq":'
    tail = f',"event":{event_json},"at":{at},"data":{data_json}}}'
    seq = _append_and_send(organization_id, head, tail, user_id)
    logger.debug("published seq %s to organization %s", seq, organization_id)
    return seq


def announce_access_change(*, organization_id: int, user_id: int, token_id: str | None = None) -> None:
    """Tell the user's sockets of the organization (only those opened with ``token_id``, if given)
    to re-check their credential, after the caller's transaction commits.

    The notice travels like an event: it takes the organization's next sequence id, is kept in
    the log and reaches every ws process (with Redis through the channel layer, without it
    through the polled database log), so a lost message is still found by the heartbeat's
    catch-up. Sockets never forward it; others of the organization see ``seq`` skip one.
    """

    def deliver() -> None:
        tail = f',"user":{int(user_id)},"token":{json.dumps(token_id)}}}'
        seq = _append_and_send(organization_id, ACCESS_NOTICE_HEAD, tail, user_id)
        logger.debug("access notice seq %s for user %s in organization %s", seq, user_id, organization_id)

    transaction.on_commit(deliver, robust=True)


def _append_and_send(organization_id: int, head: str, tail: str, recipient: int | None) -> int:
    store = get_store()
    channel = _pubsub_group_channel(store, organization_id)
    seq, text = store.append(organization_id, head, tail, recipient, channel)
    if channel is None:
        layer = get_channel_layer()
        if layer is not None:
            message = {
                "type": EVENT_MESSAGE_TYPE,
                "organization": organization_id,
                "seq": seq,
                "text": text,
                "recipient": recipient,
                # When it entered the log (as the script's message says; the ws processes' lag).
                "logged_at": time.time(),
            }
            async_to_sync(layer.group_send)(organization_group(organization_id), message)
    return seq


def _pubsub_group_channel(store: object, organization_id: int) -> str | None:
    """The Redis channel of the organization's group when the channel layer is channels_redis's
    pub/sub layer on the event log's Redis; None otherwise (then ``group_send`` is used).

    Publishing from the log's script sends events in sequence order in one round trip, where
    ``async_to_sync(group_send)`` would open an event loop and a Redis connection per event in
    a synchronous worker.
    """
    config = settings.CHANNEL_LAYERS.get("default", {})
    if not isinstance(store, RedisEventStore) or config.get("BACKEND") != PUBSUB_BACKEND:
        return None
    options = config.get("CONFIG", {})
    if options.get("hosts") != [store.url] or options.get("symmetric_encryption_keys"):
        return None
    return f"{options.get('prefix', 'asgi')}__group__{organization_group(organization_id)}"
