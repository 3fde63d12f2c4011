"""The real URLconf plus a view that crashes, to see the 500 problem response."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from stratus.accounts.services import token_create
from stratus.api.views import actor, organization
from stratus.urls import handler400, handler403, handler404, handler500
from stratus.urls import urlpatterns as real_patterns

__all__ = ["handler400", "handler403", "handler404", "handler500"]


@api_view(["GET"])
@permission_classes([AllowAny])
def crash(request: Request) -> HttpResponse:
    raise RuntimeError("boom")


def plain_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


@api_view(["POST"])
def write_then_crash(request: Request) -> HttpResponse:
    """Writes (outside any service transaction), then fails: the write must not survive a key."""
    token_create(
        org=organization(request),
        actor=actor(request),
        name="half-written",
        role="viewer",
    )
    raise RuntimeError("boom after a write")


urlpatterns = [
    *real_patterns,
    path("api/v1/test-crash", crash),
    path("api/v1/test-plain-crash", plain_crash),
    path("api/v1/test-write-then-crash", write_then_crash),
]
