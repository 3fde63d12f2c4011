"""Reads for accounts: members, invitations and API tokens of one organization, a user's
organizations, and what an invitation link shows."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from stratus.accounts.errors import AccountCode
from stratus.accounts.models import ApiToken, Invitation, Membership, Organization, User
from stratus.platform.errors import NotFound


def _one(rows: QuerySet[Any], pk: Any, label: str, code: AccountCode) -> Any:
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{label} not found.", code=code)
    return row


def member_list(*, org: Organization) -> QuerySet[Membership]:
    return Membership.objects.select_related("user").filter(organization=org)


def member_get(*, org: Organization, membership_id: int) -> Membership:
    member: Membership = _one(member_list(org=org), membership_id, "Member", AccountCode.MEMBER_NOT_FOUND)
    return member


def user_memberships(*, user: User) -> QuerySet[Membership]:
    """Every organization ``user`` belongs to, by name."""
    return (
        Membership.objects.select_related("organization")
        .filter(user=user)
        .order_by("organization__name", "organization_id")
    )


def invitation_list(*, org: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(organization=org)


def invitation_get(*, org: Organization, invitation_id: int) -> Invitation:
    invitation: Invitation = _one(
        invitation_list(org=org), invitation_id, "Invitation", AccountCode.INVITATION_NOT_FOUND
    )
    return invitation


def token_list(*, org: Organization) -> QuerySet[ApiToken]:
    """The organization's live API tokens (revoked ones are not listed)."""
    return ApiToken.objects.select_related("created_by").filter(organization=org, revoked_at=None)


def token_get(*, org: Organization, token_id: Any) -> ApiToken:
    token: ApiToken = _one(token_list(org=org), token_id, "API token", AccountCode.TOKEN_NOT_FOUND)
    return token


def account_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


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
        "account_exists": account_exists(email=invitation.email),
    }


def member_users(*, org: Organization, ids: Collection[int]) -> QuerySet[User]:
    """The users among ``ids`` who are members of ``org`` (an id of anyone else names no one)."""
    return User.objects.filter(pk__in=ids, memberships__organization=org)


def member_choices(*, org: Organization) -> QuerySet[Membership]:
    """The organization's members with their users, by name then e-mail (owner pickers)."""
    return (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .order_by("user__full_name", "user__email", "id")
    )


def members_of(*, org: Organization) -> QuerySet[Membership]:
    """The organization's memberships with their users, oldest first."""
    return Membership.objects.select_related("user").filter(organization=org).order_by("created_at", "pk")


def pending_invitations_of(*, org: Organization) -> QuerySet[Invitation]:
    """Invitations not accepted nor revoked (expired ones included: they can be re-sent)."""
    return (
        Invitation.objects.select_related("invited_by")
        .filter(organization=org, accepted_at=None, revoked_at=None)
        .order_by("-created_at", "-pk")
    )


def live_tokens_of(*, org: Organization) -> QuerySet[ApiToken]:
    """API tokens that are not revoked, newest first."""
    return (
        ApiToken.objects.select_related("created_by")
        .filter(organization=org, revoked_at=None)
        .order_by("-created_at", "-pk")
    )
