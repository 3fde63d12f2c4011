"""Writes for users, organizations, memberships, invitations, API tokens and sign-up.

Every path that gives someone a role goes through ``roles.role_grant_check``. A service that
acts for a member takes ``org`` and ``actor`` and reads the actor's role from their membership
(:func:`acting_role`); ``role_cap`` lowers it for a request made with an API token, whose role
caps its creator's (it can never raise it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from stratus.accounts import emails
from stratus.accounts.errors import AccountCode
from stratus.accounts.models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    SignupRequest,
    User,
)
from stratus.accounts.roles import (
    GrantTarget,
    lower_role,
    role_grant_check,
    role_grant_refusal,
    role_manage_check,
)
from stratus.accounts.tokens import (
    INVITATION_SALT,
    SIGNUP_SALT,
    TOKEN_DISPLAY_PREFIX_LENGTH,
    BadLink,
    generate_token_secret,
    hash_token_secret,
    new_link_key,
    sign_link,
    unsign_link,
)
from stratus.platform.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Unprocessable


def normalize_email(email: str) -> str:
    return email.strip().lower()


def acting_role(*, org: Organization, actor: User, role_cap: str | None = None) -> Role:
    """The role ``actor`` acts with in ``org``: their membership's, lowered to ``role_cap``."""
    role = Membership.objects.filter(organization=org, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise Forbidden("You are not a member of this organization.", code=AccountCode.NOT_A_MEMBER)
    return lower_role(role, role_cap)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "org"
    slug = base
    suffix = 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{suffix}"
        suffix += 1
    return slug


# The default organization is a session preference that grants nothing, so it is written with a
# plain UPDATE: saving the user would fire the receivers that drop their cached credentials.


def _adopt_default(user: User, organization: Organization) -> None:
    """The first organization a user joins becomes their default for sessions."""
    if User.objects.filter(pk=user.pk, default_organization=None).update(default_organization=organization):
        user.default_organization = organization


def _move_default_away(user: User, organization: Organization) -> None:
    """After leaving ``organization``: the default moves to the oldest remaining membership."""
    remaining = (
        Membership.objects.filter(user=user)
        .exclude(organization=organization)
        .order_by("created_at", "id")
        .first()
    )
    new_default = remaining.organization_id if remaining else None
    stale = Q(default_organization=organization) | Q(default_organization=None)
    User.objects.filter(stale, pk=user.pk).update(default_organization_id=new_default)
    user.refresh_from_db(fields=["default_organization"])


@transaction.atomic
def organization_create(*, name: str, owner: User, slug: str | None = None) -> Organization:
    organization = Organization.objects.create(name=name, slug=slug or _unique_slug(name))
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    _adopt_default(owner, organization)
    return organization


@transaction.atomic
def membership_set(*, org: Organization, user: User, role: Role) -> Membership:
    """Give ``user`` ``role`` with no acting member (management commands, data loaders, tests).

    Requests never call this: they invite (``invitation_create``) or change roles
    (``member_update``), both under the grant rule.
    """
    membership, _created = Membership.objects.update_or_create(
        organization=org, user=user, defaults={"role": role}
    )
    _adopt_default(user, org)
    return membership


@transaction.atomic
def user_set_default_organization(*, actor: User, slug: str) -> User:
    membership = (
        Membership.objects.select_related("organization").filter(user=actor, organization__slug=slug).first()
    )
    if membership is None:
        raise Invalid(
            f"You are not a member of an organization '{slug}'.",
            field_errors={"default_organization": ["Not one of your organizations."]},
            code=AccountCode.NOT_A_MEMBER,
        )
    User.objects.filter(pk=actor.pk).update(default_organization=membership.organization)
    actor.default_organization = membership.organization
    return actor


FULL_NAME_MAX_LENGTH = 200


@transaction.atomic
def user_profile_update(*, user: User, full_name: str) -> User:
    """The user's own name (the profile page)."""
    full_name = full_name.strip()
    if len(full_name) > FULL_NAME_MAX_LENGTH:
        raise Invalid(
            "The name is too long.",
            field_errors={"full_name": [f"At most {FULL_NAME_MAX_LENGTH} characters."]},
            code="too_long",
        )
    user.full_name = full_name
    user.save(update_fields=["full_name"])
    return user


@transaction.atomic
def user_password_change(*, user: User, current_password: str, new_password: str) -> User:
    """A new password for a signed-in user who proves they know the current one.

    Saving the password announces an access change: the user's other sessions (and their live
    sockets) end; the caller keeps its own session with ``update_session_auth_hash``.
    """
    if not user.check_password(current_password):
        raise Invalid(
            "The current password is wrong.",
            field_errors={"current_password": ["The current password is wrong."]},
            code="wrong_password",
        )
    try:
        validate_password(new_password, user)
    except DjangoValidationError as error:
        raise Unprocessable(
            "The password is too weak.",
            field_errors={"new_password": error.messages},
            code="weak_password",
        ) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def organization_update(*, org: Organization, name: str) -> Organization:
    org.name = name
    org.save(update_fields=["name"])
    return org


# --- API tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret; the secret exists only here and is never stored."""

    token: ApiToken
    secret: str


@transaction.atomic
def token_create(
    *,
    org: Organization,
    actor: User,
    name: str,
    role: str,
    expires_at: datetime | None = None,
    role_cap: str | None = None,
) -> IssuedToken:
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    role_grant_check(actor_role=actor_role, role=role, target=GrantTarget.TOKEN)
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(
            "The expiry time must be in the future.",
            field_errors={"expires_at": ["Must be in the future."]},
            code=AccountCode.EXPIRY_IN_PAST,
        )
    secret = generate_token_secret()
    token = ApiToken.objects.create(
        organization=org,
        created_by=actor,
        name=name,
        role=role,
        prefix=secret[:TOKEN_DISPLAY_PREFIX_LENGTH],
        key_hash=hash_token_secret(secret),
        expires_at=expires_at,
    )
    return IssuedToken(token=token, secret=secret)


def _revoke(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


@transaction.atomic
def token_revoke(*, org: Organization, actor: User, token_id: Any, role_cap: str | None = None) -> ApiToken:
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    token = _get(
        ApiToken.objects.select_for_update().filter(organization=org),
        token_id,
        "API token",
        AccountCode.TOKEN_NOT_FOUND,
    )
    if actor_role != Role.OWNER and Role(token.role) == Role.OWNER:
        raise Forbidden(
            f"Your role ({actor_role}) cannot revoke a token with the owner role.",
            code=AccountCode.ROLE_NOT_GRANTABLE,
        )
    _revoke(token)
    return token


def _revoke_tokens_of(*, organization: Organization, user_id: int) -> int:
    """Revoke every live token ``user_id`` made in ``organization`` (one save each, so the
    receivers that drop cached tokens and close sockets see every one)."""
    tokens = list(
        ApiToken.objects.select_for_update().filter(
            organization=organization, created_by_id=user_id, revoked_at=None
        )
    )
    for token in tokens:
        _revoke(token)
    return len(tokens)


# --- members ----------------------------------------------------------------------------------


def _get(rows: Any, pk: Any, label: str, code: AccountCode) -> Any:
    """The row ``pk`` of ``rows`` (already scoped to one organization); NotFound otherwise."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{label} not found.", code=code)
    return row


def _locked_member(org: Organization, membership_id: int) -> Membership:
    rows = Membership.objects.select_for_update().select_related("user").filter(organization=org)
    member: Membership = _get(rows, membership_id, "Member", AccountCode.MEMBER_NOT_FOUND)
    return member


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


def _lock_owners(organization: Organization) -> None:
    # Lock the organization's owner rows, so two demotions or departures cannot leave it without one.
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))


@transaction.atomic
def member_update(
    *, org: Organization, actor: User, membership_id: int, role: str, role_cap: str | None = None
) -> Membership:
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    _lock_owners(org)
    membership = _locked_member(org, membership_id)
    role_grant_check(
        actor_role=actor_role, role=role, target=GrantTarget.MEMBERSHIP, current_role=membership.role
    )
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(org) == 1:
        raise Unprocessable(
            "The organization needs at least one owner.",
            field_errors={"role": ["The last owner cannot be demoted."]},
            code=AccountCode.LAST_OWNER,
        )
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def _depart(organization: Organization, membership: Membership) -> None:
    _revoke_tokens_of(organization=organization, user_id=membership.user_id)
    user = membership.user
    membership.delete()
    _move_default_away(user, organization)


LAST_OWNER_LEAVING = (
    "You are the last owner of this organization: make another member an owner before leaving."
)


@transaction.atomic
def membership_leave(*, org: Organization, actor: User) -> None:
    """``actor`` leaves ``org``: their tokens there are revoked; the last owner cannot."""
    _lock_owners(org)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organization=org, user=actor)
        .first()
    )
    if membership is None:
        raise NotFound("You are not a member of this organization.", code=AccountCode.NOT_A_MEMBER)
    if membership.role == Role.OWNER and _owner_count(org) == 1:
        raise Conflict(LAST_OWNER_LEAVING, code=AccountCode.LAST_OWNER)
    _depart(org, membership)


@transaction.atomic
def member_remove(*, org: Organization, actor: User, membership_id: int, role_cap: str | None = None) -> None:
    """Remove a member (admins: members and viewers; owners: anyone). Removing yourself is leaving."""
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    _lock_owners(org)
    membership = _locked_member(org, membership_id)
    if membership.user_id == actor.pk:
        membership_leave(org=org, actor=actor)
        return
    role_manage_check(actor_role=actor_role, current_role=membership.role)
    _depart(org, membership)


# --- invitations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation and the token of its link; the token exists only here and in the email."""

    invitation: Invitation
    token: str


def _invitation_expiry(now: datetime) -> datetime:
    return now + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)


def _issue(invitation: Invitation, actor: User) -> IssuedInvitation:
    """Give ``invitation`` a fresh key (voiding any older link) and email it."""
    link = new_link_key()
    now = timezone.now()
    invitation.key_hash = link.key_hash
    invitation.sent_at = now
    invitation.expires_at = _invitation_expiry(now)
    invitation.invited_by = actor
    invitation.save()
    token = sign_link(INVITATION_SALT, invitation.pk, link.key)
    emails.send_invitation(
        to=invitation.email,
        organization_name=invitation.organization.name,
        role=invitation.role,
        inviter=actor.full_name or actor.email,
        token=token,
        expires=invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
    return IssuedInvitation(invitation=invitation, token=token)


@transaction.atomic
def invitation_create(
    *, org: Organization, actor: User, email: str, role: str, role_cap: str | None = None
) -> IssuedInvitation:
    """Invite ``email`` with ``role``. The answer is the same whether or not the address has an
    account; only an existing member or a pending invitation of this organization is refused
    (both are visible to the organization's admins anyway)."""
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    role_grant_check(actor_role=actor_role, role=role, target=GrantTarget.MEMBERSHIP)
    email = normalize_email(email)
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise Conflict(
            "This person is already a member.",
            field_errors={"email": ["Already a member."]},
            code=AccountCode.ALREADY_MEMBER,
        )
    now = timezone.now()
    open_ones = Invitation.objects.select_for_update().filter(
        organization=org, email=email, accepted_at=None, revoked_at=None
    )
    for existing in open_ones:
        if existing.expires_at > now:
            raise Conflict(
                f"An invitation to this address is pending (id {existing.pk}): re-send or revoke it.",
                field_errors={"email": ["Already invited."]},
                code=AccountCode.ALREADY_INVITED,
            )
        existing.revoked_at = now  # expired: superseded by the new one
        existing.save(update_fields=["revoked_at"])
    invitation = Invitation(organization=org, email=email, role=role, created_at=now)
    try:
        with transaction.atomic():
            return _issue(invitation, actor)
    except IntegrityError:
        raise Conflict(
            "An invitation to this address is pending: re-send or revoke it.",
            field_errors={"email": ["Already invited."]},
            code=AccountCode.ALREADY_INVITED,
        ) from None


def _locked_invitation(
    org: Organization, invitation_id: int, *, rows: Any = Invitation.objects
) -> Invitation:
    rows = rows.select_for_update().filter(organization=org)
    invitation: Invitation = _get(rows, invitation_id, "Invitation", AccountCode.INVITATION_NOT_FOUND)
    return invitation


def _open_invitation(org: Organization, invitation_id: int) -> Invitation:
    invitation = _locked_invitation(
        org, invitation_id, rows=Invitation.objects.select_related("organization")
    )
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was accepted already.", code=AccountCode.INVITATION_USED)
    if invitation.revoked_at is not None:
        raise Conflict("This invitation was revoked.", code=AccountCode.INVITATION_REVOKED)
    return invitation


@transaction.atomic
def invitation_resend(
    *, org: Organization, actor: User, invitation_id: int, role_cap: str | None = None
) -> IssuedInvitation:
    """A new link (and expiry) for a pending or expired invitation; the old link stops working."""
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    invitation = _open_invitation(org, invitation_id)
    role_grant_check(actor_role=actor_role, role=invitation.role, target=GrantTarget.MEMBERSHIP)
    return _issue(invitation, actor)


@transaction.atomic
def invitation_revoke(
    *, org: Organization, actor: User, invitation_id: int, role_cap: str | None = None
) -> Invitation:
    actor_role = acting_role(org=org, actor=actor, role_cap=role_cap)
    invitation = _locked_invitation(org, invitation_id)
    role_manage_check(actor_role=actor_role, current_role=invitation.role)
    if invitation.accepted_at is not None:
        raise Conflict(
            "This invitation was accepted already: remove the member instead.",
            code=AccountCode.INVITATION_USED,
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


INVALID_LINK = "This invitation link is not valid: it was altered, cut short or replaced by a newer one."


def invitation_from_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation a link names, whatever its state; ApplicationError if the link is not valid."""
    try:
        invitation_id, key_hash = unsign_link(INVITATION_SALT, token)
    except BadLink:
        raise NotFound(
            INVALID_LINK, field_errors={"token": [INVALID_LINK]}, code=AccountCode.INVITATION_INVALID
        ) from None
    rows = Invitation.objects.select_related("organization", "invited_by")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(pk=invitation_id, key_hash=key_hash).first()
    if invitation is None:
        raise NotFound(
            INVALID_LINK, field_errors={"token": [INVALID_LINK]}, code=AccountCode.INVITATION_INVALID
        )
    return invitation


def invitation_usable(invitation: Invitation) -> None:
    """Raise the clear refusal for an invitation that can no longer be accepted."""
    status = invitation.status(timezone.now())
    if status == InvitationStatus.ACCEPTED:
        raise Gone("This invitation was used already.", code=AccountCode.INVITATION_USED)
    if status == InvitationStatus.REVOKED:
        raise Gone("This invitation was revoked.", code=AccountCode.INVITATION_REVOKED)
    if status == InvitationStatus.EXPIRED:
        raise Gone("This invitation has expired: ask for a new one.", code=AccountCode.INVITATION_EXPIRED)


def _join(invitation: Invitation, user: User) -> Membership:
    organization = invitation.organization
    inviter_role = (
        Membership.objects.filter(organization=organization, user_id=invitation.invited_by_id)
        .values_list("role", flat=True)
        .first()
        if invitation.invited_by_id is not None
        else None
    )
    reason = role_grant_refusal(actor_role=inviter_role, role=invitation.role, target=GrantTarget.MEMBERSHIP)
    if reason is not None:
        raise Forbidden(
            f"The person who invited you can no longer grant the {invitation.role} role: {reason} "
            "Ask for a new invitation.",
            code=AccountCode.ROLE_NOT_GRANTABLE,
        )
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise Conflict("You are already a member of this organization.", code=AccountCode.ALREADY_MEMBER)
    membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
    now = timezone.now()
    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if user.email_verified_at is None:
        user.email_verified_at = now  # the link reached this address
        user.save(update_fields=["email_verified_at"])
    _adopt_default(user, organization)
    return membership


@transaction.atomic
def invitation_accept(*, token: str, actor: User) -> Membership:
    """The signed-in ``actor`` accepts; the invitation must be for their address."""
    invitation = invitation_from_token(token, lock=True)
    invitation_usable(invitation)
    if normalize_email(actor.email) != invitation.email:
        raise Forbidden(
            f"This invitation was sent to another address; you are signed in as {actor.email}. "
            "Sign in with the invited address to accept it.",
            code=AccountCode.INVITATION_OTHER_ADDRESS,
        )
    return _join(invitation, actor)


@transaction.atomic
def invitation_signup(*, token: str, password: str, full_name: str) -> Membership:
    """Create the invited person's account (verified: the link reached the address) and join."""
    invitation = invitation_from_token(token, lock=True)
    invitation_usable(invitation)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise Conflict(
            "An account already uses this address: sign in to accept the invitation.",
            code=AccountCode.ACCOUNT_EXISTS,
        )
    user = User(email=invitation.email, full_name=full_name, email_verified_at=timezone.now())
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(
            "An account already uses this address: sign in to accept the invitation.",
            code=AccountCode.ACCOUNT_EXISTS,
        ) from None
    return _join(invitation, user)


# --- sign-up ----------------------------------------------------------------------------------


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as error:
        raise Unprocessable(
            "The password is too weak.",
            field_errors={"password": error.messages},
            code=AccountCode.WEAK_PASSWORD,
        ) from None


SIGNUP_MAILS_PER_HOUR = 5


def _signup_mail_allowed(email: str) -> bool:
    """At most SIGNUP_MAILS_PER_HOUR sign-up emails an hour to one address, whatever the number of
    client addresses asking (the per-address API limit does not stop a spread-out flood)."""
    key = "signup-mail:" + hash_token_secret(email)
    if cache.add(key, 1, timeout=3600):
        return True
    try:
        return int(cache.incr(key)) <= SIGNUP_MAILS_PER_HOUR
    except ValueError:  # expired between add and incr, or the cache is down: fail open
        return True


@transaction.atomic
def signup_request(*, email: str, password: str, full_name: str, organization_name: str) -> None:
    """Start a sign-up. The caller learns nothing about the address: a free one gets a
    confirmation link, a taken one a notice to its owner; both cost the same password hash."""
    email = normalize_email(email)
    _check_password(password, User(email=email, full_name=full_name))
    password_hash = make_password(password)
    now = timezone.now()
    SignupRequest.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    if not _signup_mail_allowed(email):
        return  # the same answer: the caller cannot tell, and the mailbox is not flooded
    if User.objects.filter(email__iexact=email).exists():
        emails.send_signup_attempt_notice(to=email)
        return
    link = new_link_key()
    request = SignupRequest.objects.create(
        email=email,
        full_name=full_name,
        organization_name=organization_name,
        password=password_hash,
        key_hash=link.key_hash,
        created_at=now,
        expires_at=now + timedelta(hours=settings.SIGNUP_CONFIRM_MAX_AGE_HOURS),
    )
    emails.send_signup_confirmation(
        to=email,
        organization_name=organization_name,
        token=sign_link(SIGNUP_SALT, request.pk, link.key),
        expires=request.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


@dataclass(frozen=True)
class SignUp:
    user: User
    organization: Organization


SIGNUP_INVALID_LINK = "This confirmation link is not valid: it was altered or cut short."


def signup_request_from_token(token: str, *, lock: bool = False) -> SignupRequest:
    try:
        request_id, key_hash = unsign_link(SIGNUP_SALT, token)
    except BadLink:
        raise NotFound(
            SIGNUP_INVALID_LINK,
            field_errors={"token": [SIGNUP_INVALID_LINK]},
            code=AccountCode.SIGNUP_INVALID,
        ) from None
    rows = SignupRequest.objects.select_for_update() if lock else SignupRequest.objects.all()
    request = rows.filter(pk=request_id, key_hash=key_hash).first()
    if request is None:
        raise NotFound(
            SIGNUP_INVALID_LINK,
            field_errors={"token": [SIGNUP_INVALID_LINK]},
            code=AccountCode.SIGNUP_INVALID,
        )
    return request


@transaction.atomic
def signup_confirm(*, token: str) -> SignUp:
    """Create the account (verified) and its organization from a confirmed sign-up."""
    request = signup_request_from_token(token, lock=True)
    if request.confirmed_at is not None:
        raise Gone(
            "This sign-up was confirmed already: sign in with your email and password.",
            code=AccountCode.SIGNUP_USED,
        )
    now = timezone.now()
    if request.expires_at <= now:
        raise Gone("This confirmation link has expired: sign up again.", code=AccountCode.SIGNUP_EXPIRED)
    user = User(
        email=request.email, full_name=request.full_name, password=request.password, email_verified_at=now
    )
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(
            "An account already uses this address: sign in instead.", code=AccountCode.ACCOUNT_EXISTS
        ) from None
    organization = organization_start(name=request.organization_name, owner=user)
    request.confirmed_at = now
    request.save(update_fields=["confirmed_at"])
    return SignUp(user=user, organization=organization)


def _starter_pipeline(organization: Organization, owner: User) -> None:
    """A new organization starts with one pipeline of the standard stages, so deals work at once."""
    from stratus.crm.services import pipeline_create  # accounts does not depend on crm at import time

    pipeline_create(org=organization, actor=owner, name="Sales")


@transaction.atomic
def organization_start(*, name: str, owner: User, slug: str | None = None) -> Organization:
    """A new organization with its starter pipeline (sign-up and ``create_org``)."""
    organization = organization_create(name=name, owner=owner, slug=slug)
    _starter_pipeline(organization, owner)
    return organization
