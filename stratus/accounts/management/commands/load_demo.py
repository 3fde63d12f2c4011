from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stratus.accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, demo_load
from stratus.crm.demo import crm_demo_load


class Command(BaseCommand):
    help = "Create the demo organization and login (refused in production mode)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "load_demo creates a published login; it is refused when STRATUS_ENV=production"
            )
        demo = demo_load()
        verb = "Created" if demo.created else "Kept"
        self.stdout.write(f"{verb} demo organization '{demo.organization.name}'.")
        crm = crm_demo_load(organization=demo.organization, user=demo.user)
        self.stdout.write(f"Demo CRM: {crm.created} records added.")
        self.stdout.write(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
