"""``migrate`` under a cluster-wide lock.

Any number of replicas may run migrations at start-up: the first one takes a
PostgreSQL advisory lock and applies them; the others wait for the lock, then
find nothing left to apply. Off PostgreSQL (the embedded SQLite default) this is
the stock command.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import connections

from stratus.platform.locks import advisory_lock

MIGRATION_LOCK = "stratus:migrate"


class Command(DjangoMigrateCommand):
    help = "Apply migrations, holding a cluster-wide lock so concurrent replicas apply them once."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]

        def announce_wait() -> None:
            self.stdout.write("Another process is applying migrations; waiting for it to finish.")

        with advisory_lock(connection, MIGRATION_LOCK, on_wait=announce_wait):
            super().handle(*args, **options)
