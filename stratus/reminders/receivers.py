"""Relative reminders follow their target's due date; a done activity's reminders are cancelled.

The CRM services save activities and deals; listening to their saves keeps this rule in one
place without the CRM knowing about reminders.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from stratus.crm.models import Activity, Deal
from stratus.reminders import services


@receiver(post_save, sender=Activity, dispatch_uid="reminders-follow-activity")
def activity_saved(sender: type[Activity], instance: Activity, created: bool, **kwargs: Any) -> None:
    if not created:
        services.reminders_follow_activity(activity=instance)


@receiver(post_save, sender=Deal, dispatch_uid="reminders-follow-deal")
def deal_saved(sender: type[Deal], instance: Deal, created: bool, **kwargs: Any) -> None:
    if not created:
        services.reminders_follow_deal(deal=instance)
