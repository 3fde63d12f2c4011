"""The shell's indicator of the member's running imports (stratus/web/templates/web/shell.html)."""

from __future__ import annotations

from typing import Any

from django import template

from stratus.imports.selectors import imports_running

register = template.Library()


@register.inclusion_tag("web/imports/_indicator.html", takes_context=True)
def import_indicator(context: template.Context) -> dict[str, Any]:
    """Rendered by the server from the user's queued and running imports; live events move it."""
    organization = context.get("organization")
    user = context["request"].user
    jobs = imports_running(org=organization, actor=user) if organization is not None else []
    return {"running_imports": jobs}
