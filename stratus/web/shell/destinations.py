"""Where the palette, the shortcuts and the no-JavaScript search page lead.

Record pages live at ``/<kind>/<id>`` (contacts, companies, deals); "New ..." actions open the
creation pages (``/<kind>/new``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Destination:
    label: str | Promise
    href: str
    keys: str = ""  # the keyboard shortcut, shown in the palette and the shortcuts dialog


PAGES = (
    Destination(_("Dashboard"), "/"),
    Destination(_("Contacts"), "/contacts", keys="g c"),
    Destination(_("Companies"), "/companies", keys="g o"),
    Destination(_("Deals"), "/deals", keys="g d"),
    Destination(_("Pipeline"), "/pipeline", keys="g p"),
    Destination(_("Activities"), "/activities"),
    Destination(_("Notifications"), "/notifications"),
    Destination(_("Profile"), "/profile"),
    Destination(_("Settings"), "/settings"),
)

ACTIONS = (
    Destination(_("New contact"), "/contacts/new"),
    Destination(_("New company"), "/companies/new"),
    Destination(_("New deal"), "/deals/new"),
)

RECORD_PATHS = {"contact": "/contacts/{id}", "company": "/companies/{id}", "deal": "/deals/{id}"}


def record_path(kind: str, pk: int) -> str:
    return RECORD_PATHS[kind].format(id=pk)


def matching(query: str, *, can_create: bool = True) -> list[Destination]:
    """Pages and actions whose label contains every word of ``query`` (all of them when empty);
    the "New ..." actions only for those who may create (not viewers)."""
    words = query.casefold().split()
    offered = (*ACTIONS, *PAGES) if can_create else PAGES
    return [d for d in offered if all(word in str(d.label).casefold() for word in words)]
