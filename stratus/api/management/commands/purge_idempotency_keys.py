from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from stratus.api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than API_IDEMPOTENCY_TTL_SECONDS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Deleted {purge_expired()} expired idempotency keys.")
