"""Public endpoints reached from campaign emails: unsubscribe, open pixel, click redirect.

They carry no session: the signed token in the path is the only credential. The
unsubscribe page never unsubscribes on GET (mail scanners follow links); the form and
RFC 8058 one-click clients POST to the same address.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from stratus.campaigns import services, tokens

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{}</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
    '<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">{}</body></html>'
)


CONFIRM_FORM = mark_safe(
    '<h1>Unsubscribe</h1><p>Stop receiving these emails?</p><form method="post">'
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe</button></form>'
)


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(format_html(PAGE, title, body), status=status)


def _invalid() -> HttpResponse:
    return _page(
        "Invalid link",
        format_html(
            "<h1>{}</h1><p>{}</p>", "This link is not valid", "It was altered or has been cut short."
        ),
        status=400,
    )


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        try:
            tokens.unsubscribe_recipient(token)
        except tokens.BadToken:
            return _invalid()
        return _page(
            "Unsubscribe",
            CONFIRM_FORM,
        )
    try:
        result = services.recipient_unsubscribe(token=token)
    except tokens.BadToken:
        return _invalid()
    message = (
        "{} was already unsubscribed from {}."
        if result.already
        else "{} is unsubscribed: {} will not send you campaigns any more."
    )
    return _page(
        "Unsubscribed",
        format_html("<h1>Unsubscribed</h1><p>" + message + "</p>", result.email, result.organization_name),
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
        return _invalid()
    return HttpResponseRedirect(target)
