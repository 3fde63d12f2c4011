"""The codes of the refusals account services raise (``ApplicationError.code``)."""

from __future__ import annotations

from enum import StrEnum


class AccountCode(StrEnum):
    # Roles and membership.
    ROLE_NOT_GRANTABLE = "role_not_grantable"
    ROLE_TOO_LOW = "role_too_low"
    NOT_A_MEMBER = "not_a_member"
    ALREADY_MEMBER = "already_member"
    LAST_OWNER = "last_owner"
    MEMBER_NOT_FOUND = "member_not_found"
    # Sessions and sign-up.
    INVALID_CREDENTIALS = "invalid_credentials"
    SESSION_REQUIRED = "session_required"
    SIGNUP_DISABLED = "signup_disabled"
    WEAK_PASSWORD = "weak_password"
    ACCOUNT_EXISTS = "account_exists"
    SIGNUP_INVALID = "signup_invalid"
    SIGNUP_USED = "signup_used"
    SIGNUP_EXPIRED = "signup_expired"
    # Invitations.
    ALREADY_INVITED = "already_invited"
    INVITATION_NOT_FOUND = "invitation_not_found"
    INVITATION_INVALID = "invitation_invalid"
    INVITATION_USED = "invitation_used"
    INVITATION_REVOKED = "invitation_revoked"
    INVITATION_EXPIRED = "invitation_expired"
    INVITATION_OTHER_ADDRESS = "invitation_other_address"
    # API tokens.
    TOKEN_NOT_FOUND = "token_not_found"
    EXPIRY_IN_PAST = "expiry_in_past"
