"""Where the palette, the shortcuts and the no-JavaScript search page lead.

Record pages live at ``/<kind>/<id>`` (contacts, companies, deals); "New ..." actions open the
list and ask it to create (the ``stratus:create`` event the list page handles).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Destination:
    label: str | Promise
    href: str
    create: str = ""  # a record kind the page is asked to create on arrival ("contact", ...)
    keys: str = ""  # the keyboard shortcut, shown in the palette and the shortcuts dialog


PAGES = (
    Destination(_("My tasks"), "/"),
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
    Destination(_("New contact"), "/contacts", create="contact"),
    Destination(_("New company"), "/companies", create="company"),
    Destination(_("New deal"), "/deals", create="deal"),
)

RECORD_PATHS = {"contact": "/contacts/{id}", "company": "/companies/{id}", "deal": "/deals/{id}"}


def record_path(kind: str, pk: int) -> str:
    return RECORD_PATHS[kind].format(id=pk)


def matching(query: str) -> list[Destination]:
    """Pages and actions whose label contains every word of ``query`` (all of them when empty)."""
    words = query.casefold().split()
    return [d for d in (*ACTIONS, *PAGES) if all(word in str(d.label).casefold() for word in words)]
