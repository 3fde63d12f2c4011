from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stratus.accounts.models import Organization
from stratus.documents.text.services import documents_text_reset, documents_text_sweep


class Command(BaseCommand):
    help = (
        "Extract documents' searchable text again (after the DOCUMENTS_TEXT_* limits changed): marks "
        "the documents pending and queues them for the worker. Their current text stays searchable "
        "until the new extraction replaces it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="only this organization (its id)")
        parser.add_argument(
            "--not-searchable", action="store_true", help="only documents marked not searchable"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org = None
        if options["org"] is not None:
            org = Organization.objects.filter(pk=options["org"]).first()
            if org is None:
                raise CommandError(f"--org: no organization with id {options['org']}")
        count = documents_text_reset(org=org, not_searchable_only=options["not_searchable"])
        queued = documents_text_sweep()
        self.stdout.write(
            f"{count} document(s) marked for extraction; {len(queued)} queued now, the rest by the sweep"
        )
