from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from stratus.accounts.models import Organization, Role, User
from stratus.accounts.services import organization_start, token_create


class Command(BaseCommand):
    help = (
        "Create an organization owned by EMAIL (creating that user without a password if needed) "
        "and print a new owner API token. The token is shown once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="organization name")
        parser.add_argument("--owner", required=True, metavar="EMAIL", help="owner's email")
        parser.add_argument("--slug", help="URL name (default: derived from the name)")
        parser.add_argument("--token-name", default="Created by create_org")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["owner"].strip().lower()
        if "@" not in email:
            raise CommandError(f"--owner: {email!r} is not an email address")
        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            created_user = user is None
            if user is None:
                user = User.objects.create_user(email)  # no usable password until it is set
            if options["slug"] and Organization.objects.filter(slug=options["slug"]).exists():
                raise CommandError(f"--slug: an organization '{options['slug']}' already exists")
            organization = organization_start(name=options["name"], owner=user, slug=options["slug"])
            issued = token_create(
                org=organization,
                actor=user,
                name=options["token_name"],
                role=Role.OWNER,
            )
        self.stderr.write(
            f"Created organization '{organization.name}' (slug {organization.slug}) owned by {user.email}"
            + (
                " (new user without a password: set one with `manage.py changepassword`)"
                if created_user
                else ""
            )
        )
        self.stderr.write("Owner API token (shown once; store it now):")
        self.stdout.write(issued.secret)
