"""Rebuild every summary the reports read, from the records they summarise.

- the deal stays (``crm.DealStay``), replayed from the deals' ``moved`` timeline entries; the deal
  services keep them as deals change;
- the deals' reach (``crm.DealReach``: each deal's filter columns and the stages its stays are
  in), recomputed from the deals and the stays just rebuilt; triggers keep it on every write;
- the activities by day (``crm.ActivityDay``) and the campaign counters
  (``campaigns.CampaignDay``, ``CampaignStateCount``), recounted from the activities and
  recipients; triggers keep them on every write.

Run it after writing records or their timestamps another way: ``COPY`` or
``session_replication_role = replica`` (as ``bench/generate.py`` loads its data set), fixtures that
set timestamps after the fact. Idempotent: each summary is replaced in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from stratus.campaigns.counters import COUNTERS as CAMPAIGN_COUNTERS
from stratus.crm import counters, reach, stays


class Command(BaseCommand):
    help = (
        "Rebuild the summaries the reports read (deal stays and reach, activities by day, campaign "
        "counters) from the records; for data written without the services or triggers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", type=int, default=None, help="one organization's id (default: all)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = options["organization"]
        written = stays.rebuild(organization)
        if options["verbosity"]:
            self.stdout.write(f"deal stays: {written} row(s)")
        with transaction.atomic():
            reach.rebuild(connection, organization)
        if options["verbosity"]:
            self.stdout.write(f"{reach.TABLE}: rebuilt")
        for counter in (counters.ACTIVITY_DAYS, *CAMPAIGN_COUNTERS):
            with transaction.atomic():
                counters.rebuild(counter, connection, organization)
            if options["verbosity"]:
                self.stdout.write(f"{counter.table}: rebuilt")
