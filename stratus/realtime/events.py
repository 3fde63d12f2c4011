"""The one door through which writes announce themselves to live clients.

Services call ``publish`` inside their transaction; delivery happens after commit
so a rolled-back change is never announced. Until the WebSocket layer lands,
publishing records nothing and delivers nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def publish(*, organization_id: int, event: str, data: Mapping[str, Any]) -> None:
    """Announce ``event`` (e.g. ``contact.created``) with a JSON-serialisable ``data`` to the org."""
    return None
