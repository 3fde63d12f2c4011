"""Stratus's URLs plus ``/bench/bare``: constant JSON through the same middleware and server."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

BODY = {"id": 1, "name": "constant", "ok": True}


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse(BODY)


urlpatterns = [
    path("bench/bare", bare),
    path("", include("stratus.urls")),
]
