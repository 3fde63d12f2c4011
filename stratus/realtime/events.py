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
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from stratus.realtime.store import get_store

logger = logging.getLogger("stratus.realtime")

EVENT_MESSAGE_TYPE = "realtime.event"


def organization_group(organization_id: int) -> str:
    return f"org.{organization_id}"


def publish(*, organization_id: int, event: str, data: Mapping[str, Any], user_id: int | None = None) -> None:
    """Announce ``event`` (e.g. ``contact.created``) with a JSON-serialisable ``data`` to the org.

    With ``user_id`` (e.g. a reminder's notification) only that member's sockets receive it.
    """
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
    seq, text = get_store().append(organization_id, head, tail, user_id)
    layer = get_channel_layer()
    if layer is not None:
        message = {"type": EVENT_MESSAGE_TYPE, "seq": seq, "text": text, "recipient": user_id}
        async_to_sync(layer.group_send)(organization_group(organization_id), message)
    logger.debug("published seq %s to organization %s", seq, organization_id)
    return seq
