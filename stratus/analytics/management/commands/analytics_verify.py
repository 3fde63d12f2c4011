"""Compare the analytics store with PostgreSQL: counts and sums per organization and month."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stratus.analytics import client as analytics
from stratus.analytics.verify import differences


class Command(BaseCommand):
    help = (
        "Compare row counts and sums per table, organization and month between PostgreSQL and the "
        "analytics store; exit 1 when any differs. Changes not shipped yet show as differences."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", type=int, help="Only this organization (its id).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = differences(organization_id=options["organization"])
        except analytics.AnalyticsError as error:
            raise CommandError(f"analytics store: {error}") from error
        for difference in found:
            self.stdout.write(str(difference))
        if found:
            self.stderr.write(f"{len(found)} difference(s).")
            raise SystemExit(1)
        self.stdout.write("PostgreSQL and the analytics store agree.")
