"""Writes for users and organizations."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from stratus.accounts.models import Membership, Organization, Role, User


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "org"
    slug = base
    suffix = 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{suffix}"
        suffix += 1
    return slug


@transaction.atomic
def organization_create(*, name: str, owner: User, slug: str | None = None) -> Organization:
    organization = Organization.objects.create(name=name, slug=slug or _unique_slug(name))
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    return organization


@transaction.atomic
def membership_set(*, organization: Organization, user: User, role: Role) -> Membership:
    membership, _created = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership
