"""WebSocket routes and the lifespan of the ASGI process."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from stratus.realtime.consumers import EventsConsumer, close_store_connections

websocket_application = URLRouter([path("ws/", EventsConsumer.as_asgi())])


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Acknowledge start-up and shutdown; uvicorn has already closed sockets with 1012 by then."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_store_connections()
            await send({"type": "lifespan.shutdown.complete"})
            return
