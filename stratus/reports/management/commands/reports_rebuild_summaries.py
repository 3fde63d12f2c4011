from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from stratus.crm import stays


class Command(BaseCommand):
    help = (
        "Rebuild the summaries the reports read from the records they summarise: the deal stays "
        "(crm.DealStay) from the deals' timelines. The services keep them as records change; run "
        "this after writing records or their timestamps another way (bulk loads, fixtures)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", type=int, default=None, help="one organization's id (default: all)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        written = stays.rebuild(options["organization"])
        self.stdout.write(f"deal stays: {written} row(s)")
