"""Rebuild the analytics store from PostgreSQL (resumable; the app keeps running)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from stratus.accounts.models import Organization
from stratus.analytics import client as analytics
from stratus.analytics import schema
from stratus.analytics.backfill import Step, backfill

WIDTH = 30


class Command(BaseCommand):
    help = "Copy every mirrored row (of all organizations, or one) into the analytics store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", type=int, help="Only this organization's rows (its id).")
        parser.add_argument("--chunk", type=int, default=10_000, help="Rows queued per transaction.")
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Start again from the first row, not where the last run stopped.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("the analytics store needs PostgreSQL (its changes are captured by triggers)")
        organization = options["organization"]
        if organization is not None and not Organization.objects.filter(pk=organization).exists():
            raise CommandError(f"--organization: no organization has id {organization}")
        if options["chunk"] < 1:
            raise CommandError("--chunk: expected a positive number of rows")
        started = time.monotonic()
        try:
            schema.migrate(analytics.writer())
            queued = backfill(
                organization_id=organization,
                chunk=options["chunk"],
                restart=options["restart"],
                progress=self._progress,
            )
        except analytics.AnalyticsError as error:
            raise CommandError(f"analytics store: {error}") from error
        self.stdout.write(f"\n{queued} rows copied in {time.monotonic() - started:.1f} s.")

    def _progress(self, step: Step) -> None:
        share = step.done / step.total if step.total else 1.0
        filled = int(share * WIDTH)
        line = f"{step.table.name:<20} [{'#' * filled}{'.' * (WIDTH - filled)}] {step.done}/{step.total}"
        if self.stdout.isatty():
            self.stdout.write(f"\r{line}", ending="")
            if step.done >= step.total:
                self.stdout.write("")
        else:
            self.stdout.write(line)
        sys.stdout.flush()
