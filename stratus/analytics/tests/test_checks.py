"""Analytics needs PostgreSQL: with SQLite (the embedded default) setting it is a system-check error."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections

from stratus.analytics.checks import analytics_needs_postgresql


def test_analytics_is_refused_without_postgresql(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert analytics_needs_postgresql() == []  # off: nothing to say
    settings.ANALYTICS_URL = "chdb:///tmp/nowhere"
    assert analytics_needs_postgresql() == []  # on PostgreSQL
    monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    errors = analytics_needs_postgresql()
    assert [error.id for error in errors] == ["stratus.analytics.E001"]
