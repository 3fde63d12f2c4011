"""Drop cached API tokens when what they grant changes (see ``authentication.forget_tokens``).

Receivers rather than calls in the services, so that every write path (services, the admin
site, management commands, the shell) is covered.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from stratus.accounts.models import ApiToken, Membership, Organization, User
from stratus.api.authentication import forget_tokens


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="api-forget-token")
def _token_changed(sender: Any, instance: ApiToken, created: bool = False, **kwargs: Any) -> None:
    if not created:
        forget_tokens([instance.key_hash])


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="api-forget-membership")
def _membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    forget_tokens(
        ApiToken.objects.filter(organization_id=instance.organization_id, created_by_id=instance.user_id)
    )


@receiver(post_save, sender=User, dispatch_uid="api-forget-user")
def _user_changed(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if not created:
        forget_tokens(ApiToken.objects.filter(created_by_id=instance.pk))


@receiver(post_save, sender=Organization, dispatch_uid="api-forget-organization")
def _organization_changed(sender: Any, instance: Organization, created: bool, **kwargs: Any) -> None:
    if not created:
        forget_tokens(ApiToken.objects.filter(organization_id=instance.pk))
