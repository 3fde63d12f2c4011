"""Which organization a browser page acts in: the one chosen in this session, else the user's
default organization, else the first."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Membership, User

SESSION_ORGANIZATION = "web.organization"


class SignedInRequest(HttpRequest):
    """A request that passed ``login_required`` (for type checking; the middleware sets both)."""

    user: User
    htmx: HtmxDetails


_MEMBERSHIPS_READ = "_stratus_memberships"


def memberships(request: SignedInRequest) -> list[Membership]:
    """The signed-in user's memberships, read once per request: a page's view and its shell both
    ask for them. (A view that changes them answers with a redirect, so a new request reads them.)"""
    read: tuple[int, list[Membership]] | None = getattr(request, _MEMBERSHIPS_READ, None)
    if read is None or read[0] != request.user.pk:
        read = (request.user.pk, list(account_selectors.user_memberships(user=request.user)))
        setattr(request, _MEMBERSHIPS_READ, read)
    return list(read[1])


def current_membership(request: SignedInRequest) -> Membership:
    """The membership the page acts through; a user with none has no page to see (404)."""
    mine = memberships(request)
    if not mine:
        raise Http404("You are not a member of any organization.")
    by_organization = {membership.organization_id: membership for membership in mine}
    for chosen in (request.session.get(SESSION_ORGANIZATION), request.user.default_organization_id):
        if chosen in by_organization:
            return by_organization[chosen]
    return mine[0]
