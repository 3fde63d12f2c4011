"""Reads for accounts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from stratus.accounts.models import ApiToken, Invitation, Membership, Organization, User


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


def members_of(*, organization: Organization) -> QuerySet[Membership]:
    """The organization's memberships with their users, oldest first."""
    return (
        Membership.objects.select_related("user")
        .filter(organization=organization)
        .order_by("created_at", "pk")
    )


def pending_invitations_of(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations not accepted nor revoked (expired ones included: they can be re-sent)."""
    return (
        Invitation.objects.select_related("invited_by")
        .filter(organization=organization, accepted_at=None, revoked_at=None)
        .order_by("-created_at", "-pk")
    )


def live_tokens_of(*, organization: Organization) -> QuerySet[ApiToken]:
    """API tokens that are not revoked, newest first."""
    return (
        ApiToken.objects.select_related("created_by")
        .filter(organization=organization, revoked_at=None)
        .order_by("-created_at", "-pk")
    )
