"""A session that ended sends an htmx request's page to the sign-in page, and back afterwards.

``login_required`` answers a redirect to the sign-in page. A plain request follows it and is
brought back by ``next``; an htmx request would swap the sign-in page into a fragment instead.
For those the redirect becomes ``HX-Redirect`` (htmx then loads the whole page), with ``next``
naming the page the person was on (``HX-Current-URL``), or, for a boosted link or form, the page
they were going to.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url


class HtmxSignInRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302, 303):
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        redirect = HttpResponse(status=200)
        redirect["HX-Redirect"] = f"{login_path}?{urlencode({'next': _page_of(request)})}"
        return redirect


def _page_of(request: HttpRequest) -> str:
    """The page to come back to: a path on this site, never another host."""
    if request.headers.get("HX-Boosted") == "true" and request.method in ("GET", "HEAD"):
        return request.get_full_path()
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc and current.netloc != request.get_host():
        return "/"
    path = current.path or "/"
    return f"{path}?{current.query}" if current.query else path
