"""System checks: analytics needs PostgreSQL (its change capture is PostgreSQL triggers)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connection


@checks.register(checks.Tags.database)
def analytics_needs_postgresql(**_: Any) -> list[checks.CheckMessage]:
    if (settings.ANALYTICS_URL or settings.ANALYTICS_WRITER_URL) and connection.vendor != "postgresql":
        return [
            checks.Error(
                "ANALYTICS_URL / ANALYTICS_WRITER_URL are set but the database is not PostgreSQL.",
                hint="The analytics store is fed by PostgreSQL triggers; unset them or use DATABASE_URL=postgres://...",
                id="stratus.analytics.E001",
            )
        ]
    return []
