"""``manage.py search_reindex [--org ID]``: rebuild the search index from the database.

Without ``--org``: a new collection is filled beside the one searches read, then the alias is
moved to it and the old one dropped; searches answer from the old one until the switch, and
the indexer writes every change to both meanwhile. Also the way to a new embedding model.
With ``--org``: that organization's points are deleted and written again in place.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from stratus.accounts.models import Organization
from stratus.knowledge import services, sources


class Command(BaseCommand):
    help = "Rebuild the search-by-meaning index (a new collection, then an alias switch)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="Rebuild only this organization (id), in place.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization_id = options.get("org")
        if organization_id is not None and not Organization.objects.filter(pk=organization_id).exists():
            raise CommandError(f"--org: no organization with id {organization_id}")
        organizations = (
            [organization_id]
            if organization_id is not None
            else list(Organization.objects.values_list("pk", flat=True))
        )
        total = sum(
            model._default_manager.filter(organization_id__in=organizations).count()
            for model in sources.RECORD_MODELS.values()
        )
        with tqdm(total=total, unit="record", disable=options["no_progress"], file=sys.stderr) as bar:
            collection = services.reindex(organization_id=organization_id, progress=bar.update)
        self.stdout.write(f"Indexed {total} records into {collection}.")
