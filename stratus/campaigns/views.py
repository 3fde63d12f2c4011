"""Public endpoints reached from campaign emails: unsubscribe, open pixel, click redirect.

They carry no session: the signed token in the path is the only credential. The
unsubscribe page never unsubscribes on GET (mail scanners follow links); the form and
RFC 8058 one-click clients POST to the same address.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from stratus.campaigns import selectors, services, tokens

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
UNSUBSCRIBE_PAGE = "campaigns/unsubscribe.html"


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, UNSUBSCRIBE_PAGE, {"outcome": "invalid", "title": _("Invalid link")}, status=400)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The page a recipient opens: it names the organization and the address (partly hidden),
    and asks for confirmation; a POST (the button, or a one-click client) unsubscribes."""
    if request.method == "GET":
        try:
            link = selectors.unsubscribe_link(recipient_id=tokens.unsubscribe_recipient(token))
        except tokens.BadToken:
            return _invalid(request)
        if link is None:
            return _invalid(request)
        return render(
            request,
            UNSUBSCRIBE_PAGE,
            {
                "outcome": "confirm",
                "title": _("Unsubscribe"),
                "organization_name": link.organization_name,
                "masked_email": link.masked_email,
                "already": link.already,
            },
        )
    try:
        result = services.recipient_unsubscribe(token=token)
    except tokens.BadToken:
        return _invalid(request)
    return render(
        request,
        UNSUBSCRIBE_PAGE,
        {
            "outcome": "done",
            "title": _("Unsubscribed"),
            "organization_name": result.organization_name,
            "email": selectors.masked_email(result.email),
            "already": result.already,
        },
    )


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.recipient_record_open(token=token)
    except tokens.BadToken:
        return HttpResponse(status=404)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = services.recipient_record_click(token=token)
    except tokens.BadToken:
        return _invalid(request)
    return HttpResponseRedirect(target)
