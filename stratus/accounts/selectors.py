"""Reads for accounts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from stratus.accounts.models import Invitation, Membership, Organization, User


def invitation_details(*, invitation: Invitation) -> dict[str, Any]:
    """What the holder of an invitation link may see before accepting it. ``account_exists`` is
    told only to the holder of the link, who reads that mailbox."""
    inviter = invitation.invited_by
    return {
        "organization": invitation.organization.name,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": (inviter.full_name or inviter.email) if inviter else "",
        "expires_at": invitation.expires_at,
        "status": invitation.status(timezone.now()),
        "account_exists": User.objects.filter(email__iexact=invitation.email).exists(),
    }


def member_list(*, org: Organization) -> QuerySet[Membership]:
    """The organization's members with their users, by name then e-mail."""
    return (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .order_by("user__full_name", "user__email", "id")
    )
