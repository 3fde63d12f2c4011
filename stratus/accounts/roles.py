"""Who may give which role to whom: the one rule every path that sets a role goes through.

Paths: adding or inviting a member (``POST /members``, ``POST /invitations``), re-sending an
invitation, accepting one (checked again against the inviter's role at that moment), changing
a member's role, and creating an API token. Each calls :func:`role_grant_check`, which raises
:class:`~stratus.platform.errors.Forbidden` with the reason; nothing is written before it is
called.

The rule:

- only admins and owners grant a membership's role at all;
- a membership (new, invited or changed): owners grant any role; admins grant ``member`` and
  ``viewer`` and change only members and viewers (an admin can neither make an admin nor
  touch one);
- an API token acts for its creator with at most the creator's role, so a token may carry any
  role up to the creator's own (an admin may make an admin token for an integration that
  manages members, never an owner one). Through the API only admins create tokens
  (``AdminOnly`` on ``/tokens``).
"""

from __future__ import annotations

from enum import StrEnum

from stratus.accounts.errors import AccountCode
from stratus.accounts.models import ROLE_RANK, Role
from stratus.platform.errors import Forbidden


class GrantTarget(StrEnum):
    MEMBERSHIP = "membership"
    TOKEN = "token"


# The lowest role that may grant roles at all, and the lowest role only owners may grant.
GRANTING_ROLE = Role.ADMIN
OWNER_ONLY_FROM = Role.ADMIN


def _rank(role: str) -> int:
    return ROLE_RANK[Role(role)]


def lower_role(a: str, b: str | None) -> Role:
    """The lower of two roles (``b`` None: ``a``)."""
    return Role(a) if b is None else min(Role(a), Role(b), key=_rank)


def role_grant_refusal(
    *, actor_role: str | None, role: str, target: GrantTarget, current_role: str | None = None
) -> str | None:
    """Why ``actor_role`` may not give ``role`` (to a membership now holding ``current_role``,
    None for a new one); None when it may."""
    if actor_role is None:
        return "Only members of the organization can grant roles."
    if target is GrantTarget.TOKEN:
        # A token delegates its creator's own access: at most the creator's role. (Who may
        # create tokens through the API at all is the endpoint's permission: admins.)
        if _rank(role) > _rank(actor_role):
            return f"Your role ({actor_role}) cannot create a token with the {role} role."
        return None
    if _rank(actor_role) < _rank(GRANTING_ROLE):
        return f"Your role ({actor_role}) cannot grant roles; admins and owners can."
    if actor_role == Role.OWNER:
        return None
    if current_role is not None and _rank(current_role) >= _rank(OWNER_ONLY_FROM):
        return f"Only owners can change or remove a member with the {current_role} role."
    if _rank(role) >= _rank(OWNER_ONLY_FROM):
        return f"Only owners can grant the {role} role."
    return None


def role_grant_check(
    *, actor_role: str | None, role: str, target: GrantTarget, current_role: str | None = None
) -> None:
    reason = role_grant_refusal(actor_role=actor_role, role=role, target=target, current_role=current_role)
    if reason is not None:
        raise Forbidden(reason, code=AccountCode.ROLE_NOT_GRANTABLE)


def role_manage_check(*, actor_role: str, current_role: str) -> None:
    """Removing a member or revoking an invitation: the same reach as changing that role."""
    if actor_role != Role.OWNER and _rank(current_role) >= _rank(OWNER_ONLY_FROM):
        raise Forbidden(
            f"Only owners can change or remove a member with the {current_role} role.",
            code=AccountCode.ROLE_NOT_GRANTABLE,
        )
    if _rank(actor_role) < _rank(GRANTING_ROLE):
        raise Forbidden(
            f"Your role ({actor_role}) cannot manage members; admins and owners can.",
            code=AccountCode.ROLE_TOO_LOW,
        )
