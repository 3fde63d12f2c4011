"""Template tags of the app shell (stratus/web/templates/web/shell.html)."""

from __future__ import annotations

from typing import Any

from django import template

from stratus.reminders.selectors import notification_unread_count

register = template.Library()


@register.inclusion_tag("web/shell/_badge.html", takes_context=True)
def unread_badge(context: template.Context) -> dict[str, Any]:
    """The sidebar's count of the user's unread notifications in the current organization."""
    organization = context.get("organization")
    user = context["request"].user
    unread = notification_unread_count(org=organization, actor=user) if organization is not None else 0
    return {"unread": unread}
