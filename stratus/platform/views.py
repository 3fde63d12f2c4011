from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from stratus.platform.health import readiness


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """The process answers: touches no backing service."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    ok, body = readiness()
    return JsonResponse(body, status=200 if ok else 503)
