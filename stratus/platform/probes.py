"""Liveness and readiness answered before host validation, for probes that address a pod by IP.

A kubelet, a load balancer's target check or a container health check connects to the
replica's own address, so its Host header is an IP that no ALLOWED_HOSTS entry names, and
Django would answer 400. Only the two probe paths are exempt: their views read nothing from
the request but its method, build no URL and answer fixed JSON, so the Host cannot influence
them. Every other path (the `/health/` and `/api/v1/health/` aliases included) is validated.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from stratus.platform import views

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": views.live,
    "/health/ready": views.ready,
}


class HealthProbeMiddleware:
    """Placed before SecurityMiddleware and CommonMiddleware, which validate the Host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
