"""Ship the pending changes now (what the worker does every ANALYTICS_SHIP_INTERVAL seconds)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from stratus.analytics import client as analytics
from stratus.analytics.backfill import drain


class Command(BaseCommand):
    help = "Ship every change committed so far to the analytics store, waiting for a running shipper."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            drain()
        except analytics.AnalyticsError as error:
            raise CommandError(f"analytics store: {error}") from error
        self.stdout.write("Shipped.")
