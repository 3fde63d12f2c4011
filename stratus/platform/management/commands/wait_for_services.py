from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from stratus.platform.waits import services_to_wait_for, wait_for


class Command(BaseCommand):
    help = "Wait for PostgreSQL and Redis (and optionally applied migrations) with backoff."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
        parser.add_argument(
            "--migrations",
            action="store_true",
            help="also wait until every migration is applied (for processes that must not serve before)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["timeout"]
        for service in services_to_wait_for(include_migrations=options["migrations"]):
            try:
                wait_for(service, deadline=deadline, report=lambda line: self.stderr.write(line))
            except TimeoutError as error:
                raise CommandError(f"gave up after {options['timeout']:.0f}s waiting for {error}") from error
