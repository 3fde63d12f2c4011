"""A client message nested deeper than JSON_MAX_DEPTH closes the socket with 4400, naming the depth."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings

from stratus.realtime.tests.harness import Client, Server

pytestmark = pytest.mark.cluster


def test_a_message_nested_too_deep_is_refused_before_parsing(server: Server) -> None:
    limit = settings.JSON_MAX_DEPTH

    async def refused(text: str) -> tuple[int | None, str]:
        client = await Client.open(server.ws_url)
        await client.ws.send(text)
        return await client.closed_with()

    async def scenario() -> None:
        deep = "[" * 100_000 + "]" * 100_000  # Python's parser would raise RecursionError
        assert await refused(deep) == (4400, f"JSON nested more than {limit} levels deep.")
        over = '{"type": "ping", "x": ' + "[" * limit + "]" * limit + "}"
        assert await refused(over) == (4400, f"JSON nested more than {limit} levels deep.")

    asyncio.run(scenario())
