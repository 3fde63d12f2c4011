"""Writes for users and organizations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from stratus.accounts.models import ROLE_RANK, ApiToken, Membership, Organization, Role, User
from stratus.accounts.tokens import TOKEN_DISPLAY_PREFIX_LENGTH, generate_token_secret, hash_token_secret
from stratus.platform.errors import ApplicationError


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


# --- API tokens, members, sign-up (used by the REST API) --------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret; the secret exists only here and is never stored."""

    token: ApiToken
    secret: str


def _require_role_at_least(actor_role: str, target_role: str, what: str) -> None:
    if ROLE_RANK[Role(actor_role)] < ROLE_RANK[Role(target_role)]:
        raise PermissionDenied(f"Your role ({actor_role}) cannot {what} with the {target_role} role.")


@transaction.atomic
def token_create(
    *,
    organization: Organization,
    actor: User,
    actor_role: str,
    name: str,
    role: str,
    expires_at: datetime | None = None,
) -> IssuedToken:
    _require_role_at_least(actor_role, role, "create a token")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(
            "The expiry time must be in the future.", field_errors={"expires_at": ["Must be in the future."]}
        )
    secret = generate_token_secret()
    token = ApiToken.objects.create(
        organization=organization,
        created_by=actor,
        name=name,
        role=role,
        prefix=secret[:TOKEN_DISPLAY_PREFIX_LENGTH],
        key_hash=hash_token_secret(secret),
        expires_at=expires_at,
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def token_revoke(*, organization: Organization, actor_role: str, token_id: Any) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(organization=organization, pk=token_id)
    _require_role_at_least(actor_role, token.role, "revoke a token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


@transaction.atomic
def member_add(*, organization: Organization, actor_role: str, email: str, role: str) -> Membership:
    _require_role_at_least(actor_role, role, "add a member")
    if role == Role.OWNER and actor_role != Role.OWNER:
        raise PermissionDenied("Only owners can add owners.")
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise ApplicationError(
            "No Stratus account uses this email; the person signs up first.",
            field_errors={"email": ["No account uses this email."]},
            code="unknown_user",
            status=422,
        )
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if not created:
        raise ApplicationError(
            "This person is already a member.",
            field_errors={"email": ["Already a member."]},
            code="already_member",
            status=422,
        )
    return membership


def _guard_member_change(organization: Organization, actor_role: str, membership: Membership) -> None:
    """Admins manage members and viewers; only owners touch admins and owners."""
    if actor_role != Role.OWNER and ROLE_RANK[Role(membership.role)] >= ROLE_RANK[Role.ADMIN]:
        raise PermissionDenied(f"Only owners can change or remove a member with the {membership.role} role.")


@transaction.atomic
def member_update(
    *, organization: Organization, actor_role: str, membership_id: int, role: str
) -> Membership:
    # Lock the organization's owner rows too, so two demotions cannot leave it without an owner.
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .get(organization=organization, pk=membership_id)
    )
    _guard_member_change(organization, actor_role, membership)
    if actor_role != Role.OWNER and ROLE_RANK[Role(role)] >= ROLE_RANK[Role.ADMIN]:
        raise PermissionDenied(f"Only owners can grant the {role} role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(organization) == 1:
        raise ApplicationError(
            "The organization needs at least one owner.",
            field_errors={"role": ["The last owner cannot be demoted."]},
            code="last_owner",
            status=422,
        )
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, organization: Organization, actor_role: str, membership_id: int) -> None:
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
    membership = Membership.objects.select_for_update().get(organization=organization, pk=membership_id)
    _guard_member_change(organization, actor_role, membership)
    if membership.role == Role.OWNER and _owner_count(organization) == 1:
        raise ApplicationError("The organization needs at least one owner.", code="last_owner", status=422)
    ApiToken.objects.filter(
        organization=organization, created_by_id=membership.user_id, revoked_at=None
    ).update(revoked_at=timezone.now())
    membership.delete()


@transaction.atomic
def organization_update(*, organization: Organization, name: str) -> Organization:
    organization.name = name
    organization.save(update_fields=["name"])
    return organization


EMAIL_TAKEN = "An account with this email already exists."


@dataclass(frozen=True)
class SignUp:
    user: User
    organization: Organization


@transaction.atomic
def signup(*, email: str, password: str, full_name: str, organization_name: str) -> SignUp:
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(EMAIL_TAKEN, field_errors={"email": [EMAIL_TAKEN]}, code="taken", status=422)
    user = User(email=email, full_name=full_name)
    try:
        validate_password(password, user)
    except DjangoValidationError as error:
        raise ApplicationError(
            "The password is too weak.",
            field_errors={"password": error.messages},
            code="weak_password",
            status=422,
        ) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ApplicationError(
            EMAIL_TAKEN, field_errors={"email": [EMAIL_TAKEN]}, code="taken", status=422
        ) from None
    organization = organization_create(name=organization_name, owner=user)
    _starter_pipeline(organization, user)
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
