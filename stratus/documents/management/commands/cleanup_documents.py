from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from stratus.documents.services import documents_cleanup


class Command(BaseCommand):
    help = (
        "Remove uploads that were started but never finished, and objects under documents/ that no "
        "document row names, older than --older-than seconds (default DOCUMENTS_PENDING_MAX_AGE). "
        "Never removes the object of a document that exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help=f"age in seconds (default {settings.DOCUMENTS_PENDING_MAX_AGE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["older_than"]
        if seconds is not None and seconds < settings.DOCUMENTS_UPLOAD_URL_EXPIRE:
            raise CommandError(
                f"--older-than must be at least DOCUMENTS_UPLOAD_URL_EXPIRE "
                f"({settings.DOCUMENTS_UPLOAD_URL_EXPIRE}) so that no upload still in progress is removed"
            )
        report = documents_cleanup(older_than=timedelta(seconds=seconds) if seconds is not None else None)
        self.stdout.write(
            f"removed {report.pending_rows} abandoned upload(s) and {report.orphan_objects} orphan object(s)"
        )
