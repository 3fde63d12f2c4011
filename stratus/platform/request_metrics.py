"""Counts and times every request by route template, method and status (Prometheus).

The route is Django's URL pattern (``api/v1/contacts/<int:pk>``), never the raw path, so
ids never become labels; a request that matched no pattern counts as ``unmatched``. After
each request the database pool's statistics are copied into their gauges.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from stratus.platform import metrics

UNMATCHED = "unmatched"


def route_of(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None or not match.route:
        return UNMATCHED
    return match.route


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.monotonic()
        response = self.get_response(request)
        route, method = route_of(request), request.method or "GET"
        metrics.HTTP_LATENCY.labels(route=route, method=method).observe(time.monotonic() - started)
        metrics.HTTP_REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
        metrics.observe_database_pools()
        return response
