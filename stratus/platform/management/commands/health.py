from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from stratus.platform.health import readiness


class Command(BaseCommand):
    help = "Print the readiness report as JSON; exit 1 when not ready."

    def handle(self, *args: Any, **options: Any) -> None:
        ok, body = readiness()
        self.stdout.write(json.dumps(body, indent=2))
        if not ok:
            raise SystemExit(1)
