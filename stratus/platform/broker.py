"""The Redis broker transport: kombu's, except that a channel outliving its connection fails
as a connection error.

When the broker drops while a message is unacknowledged (a task is running, or one is
reserved), the Celery consumer first ``collect()``s its kombu connection and then
``close()``s it. With kombu 5.7.0 the first pass can stop half-way (draining the pending
BRPOP raises ``ConnectionError``) yet still detach the transport from the connection; the
second pass closes the same channel again, tries to put the unacknowledged message back,
and builds a new Redis pool from ``transport.client``, which is now ``None``. The resulting
``AttributeError: 'NoneType' object has no attribute 'hostname'`` is not a connection error,
so nothing on the way up catches it and the worker exits ("Unrecoverable error").

Raising a Redis ``ConnectionError`` instead is what every caller already expects when the
broker is gone: the channel close, a late ``ack``, a ``reject`` of a cancelled task all treat
it as "the broker is unreachable", and the message stays in the broker's unacked set, to be
delivered again after the visibility timeout. Nothing is lost, and the worker reconnects.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was released; the channel cannot reconnect")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
