"""Create the analytics store's tables (idempotent) and switch the change capture on."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from stratus.analytics import client as analytics
from stratus.analytics import schema, shipper


class Command(BaseCommand):
    help = "Create or update the analytics store's tables (ANALYTICS_WRITER_URL) and start capturing changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stop-capture",
            action="store_true",
            help="Switch the change capture off and empty the outbox (the store then needs a backfill).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("the analytics store needs PostgreSQL (its changes are captured by triggers)")
        if options["stop_capture"]:
            shipper.set_capturing(False)
            self.stdout.write("Change capture switched off; the outbox is empty.")
            return
        try:
            statements = schema.migrate(analytics.writer())
        except analytics.AnalyticsError as error:
            raise CommandError(f"analytics store: {error}") from error
        self.stdout.write(
            f"{len(schema.TABLES)} tables ready ({len(statements)} statements, all idempotent)."
        )
        was_capturing = shipper.capturing()
        shipper.set_capturing(True)
        if not was_capturing:
            self.stdout.write(
                "Change capture switched on. Run analytics_backfill to copy the rows already there."
            )
