"""Open sockets re-check their credential when what it grants changes.

Revoking or deleting a token, changing or removing a membership, changing or deleting a
user (deactivation, a new password) and ending a session (signing out) each announce an access notice to the
sockets concerned (``events.announce_access_change``); it is sent after the transaction
commits and reaches every ws process, whose sockets of that user re-check and are closed
(4401, 4403) or re-authorised (a new role). Receivers rather than calls in the services, so
that every write path (services, the admin site, management commands, the shell) is covered.
Bulk ``QuerySet.update`` sends no signal: such changes are caught by the periodic re-check
(``REALTIME_REAUTH_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from stratus.accounts.models import ApiToken, Membership, User
from stratus.realtime.events import announce_access_change

# Saves that change nothing a socket's access depends on (the API stamps tokens as used,
# logging in stamps the user).
_BOOKKEEPING = {ApiToken: frozenset({"last_used_at"}), User: frozenset({"last_login"})}


def _bookkeeping_only(model: type[Any], update_fields: Iterable[str] | None) -> bool:
    return update_fields is not None and frozenset(update_fields) <= _BOOKKEEPING[model]


def _announce_to_all_organizations(user_id: int) -> None:
    organizations = Membership.objects.filter(user_id=user_id).values_list("organization_id", flat=True)
    for organization_id in organizations:
        announce_access_change(organization_id=organization_id, user_id=user_id)


def _announce_token_change(token: ApiToken) -> None:
    announce_access_change(
        organization_id=token.organization_id, user_id=token.created_by_id, token_id=str(token.pk)
    )


@receiver(post_save, sender=ApiToken, dispatch_uid="realtime-token-saved")
def _token_saved(
    sender: Any, instance: ApiToken, created: bool, update_fields: Iterable[str] | None = None, **kwargs: Any
) -> None:
    if not created and not _bookkeeping_only(ApiToken, update_fields):
        _announce_token_change(instance)


@receiver(post_delete, sender=ApiToken, dispatch_uid="realtime-token-deleted")
def _token_deleted(sender: Any, instance: ApiToken, **kwargs: Any) -> None:
    _announce_token_change(instance)


@receiver(post_save, sender=Membership, dispatch_uid="realtime-membership-saved")
def _membership_saved(sender: Any, instance: Membership, created: bool, **kwargs: Any) -> None:
    if not created:  # a new membership takes nothing away
        announce_access_change(organization_id=instance.organization_id, user_id=instance.user_id)


@receiver(post_delete, sender=Membership, dispatch_uid="realtime-membership-deleted")
def _membership_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    announce_access_change(organization_id=instance.organization_id, user_id=instance.user_id)


@receiver(post_save, sender=User, dispatch_uid="realtime-user-saved")
def _user_saved(
    sender: Any, instance: User, created: bool, update_fields: Iterable[str] | None = None, **kwargs: Any
) -> None:
    # Deleting a user deletes its memberships and tokens first, which announce themselves.
    if not created and not _bookkeeping_only(User, update_fields):
        _announce_to_all_organizations(instance.pk)


@receiver(post_delete, sender=Session, dispatch_uid="realtime-session-deleted")
def _session_deleted(sender: Any, instance: Session, **kwargs: Any) -> None:
    """Signing out (and any other end of a live session) closes the sockets it opened.

    Announced once the row is gone, so the re-check cannot read the session before it is.
    Only the sockets of that session fail it; the user's others stay. Expired sessions
    (``clearsessions``) announce nothing: the periodic re-check has closed their sockets.
    """
    if instance.expire_date <= timezone.now():
        return
    user_id = instance.get_decoded().get(SESSION_KEY)
    if user_id is not None:
        _announce_to_all_organizations(int(user_id))
