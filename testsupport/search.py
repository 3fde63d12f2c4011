"""Search by meaning in tests: each test on an embedded Qdrant shard of its own, and the
passages waiting to be indexed indexed now (the worker's job, done in the test's process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def qdrant_in_tmp(settings: Any, tmp_path: Path) -> Path:
    """The test's own embedded Qdrant shard (no server): a folder under its ``tmp_path``."""
    settings.QDRANT_PATH = tmp_path / "qdrant"
    settings.QDRANT_URL = ""
    return settings.QDRANT_PATH


def index_pending() -> None:
    """Index every passage waiting to be, as the worker would."""
    from stratus.knowledge import services

    while services.index_pending():
        pass
