"""The demo organization that ``make run`` signs into."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.accounts.services import organization_create

DEMO_EMAIL = "demo@stratus.example"
DEMO_PASSWORD = "stratus-demo"
DEMO_ORG_SLUG = "demo"


@dataclass(frozen=True)
class Demo:
    organization: Organization
    user: User
    created: bool


@transaction.atomic
def demo_load() -> Demo:
    """Create the demo login and organization once; running it again changes nothing."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    created = user is None
    if user is None:
        user = User.objects.create_superuser(DEMO_EMAIL, DEMO_PASSWORD, full_name="Demo User")
    organization = Organization.objects.filter(slug=DEMO_ORG_SLUG).first()
    if organization is None:
        organization = organization_create(name="Demo Company", owner=user, slug=DEMO_ORG_SLUG)
        created = True
    return Demo(organization=organization, user=user, created=created)
