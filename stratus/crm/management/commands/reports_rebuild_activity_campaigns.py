"""Recount the activity report's and the campaigns report's summaries from the rows.

The summaries (``crm.ActivityDay``, ``campaigns.CampaignDay`` and ``CampaignStateCount``) are
kept by triggers on every write; this is for rows written where triggers do not fire (``COPY``
or ``session_replication_role = replica``, as ``bench/generate.py`` loads its data set).
Idempotent: each summary is deleted and recounted in one transaction per summary.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from stratus.campaigns.counters import COUNTERS as CAMPAIGN_COUNTERS
from stratus.crm import counters


class Command(BaseCommand):
    help = "Recount the activity by day and the campaign counters from the activities and recipients."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", type=int, default=None, help="only this organization (id)")

    def handle(self, *args: Any, **options: Any) -> None:
        for counter in (counters.ACTIVITY_DAYS, *CAMPAIGN_COUNTERS):
            with transaction.atomic():
                counters.rebuild(counter, connection, options["organization"])
            if options["verbosity"]:
                self.stdout.write(f"{counter.table}: rebuilt")
