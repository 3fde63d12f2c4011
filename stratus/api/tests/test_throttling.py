"""Rate limits per token and per organization, counted in Redis; open when Redis is down."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache, caches

from stratus.accounts.models import Role
from stratus.api.throttling import WINDOW_SECONDS
from testsupport.processes import free_port

pytestmark = pytest.mark.django_db


def in_one_window(requests):
    """Statuses of ``requests()`` all counted in one rate-limit window (retried once at a boundary)."""
    for _ in range(2):
        window = int(time.time() // WINDOW_SECONDS)
        statuses = requests()
        if int(time.time() // WINDOW_SECONDS) == window:
            return statuses
        cache.clear()
    raise AssertionError("crossed two window boundaries")


def test_token_limit_answers_429_with_retry_after(api_client, settings) -> None:
    settings.API_RATE_LIMIT_TOKEN = 3
    client = api_client(Role.VIEWER)
    statuses = in_one_window(lambda: [client.get("/api/v1/organization").status_code for _ in range(4)])
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/organization")
    assert response["Content-Type"] == "application/problem+json"
    assert 1 <= int(response["Retry-After"]) <= 60
    # another token of the same organization has its own budget
    assert api_client(Role.VIEWER).get("/api/v1/organization").status_code == 200


def test_organization_limit_spans_its_tokens(api_client, other_organization, settings) -> None:
    settings.API_RATE_LIMIT_ORGANIZATION = 4
    first, second = api_client(Role.VIEWER), api_client(Role.VIEWER)
    statuses = in_one_window(
        lambda: [c.get("/api/v1/organization").status_code for c in (first, second, first, second, first)]
    )
    assert statuses == [200, 200, 200, 200, 429]
    assert api_client(Role.VIEWER, org=other_organization).get("/api/v1/organization").status_code == 200


def test_anonymous_endpoints_are_limited_per_address(settings, client) -> None:
    settings.API_RATE_LIMIT_ANONYMOUS = 2
    statuses = in_one_window(
        lambda: [
            client.post(
                "/api/v1/auth/login",
                {"email": "x@example.com", "password": "x"},
                content_type="application/json",
            ).status_code
            for _ in range(3)
        ]
    )
    assert statuses == [400, 400, 429]


def test_limits_fail_open_when_redis_is_down(api_client, settings) -> None:
    client = api_client(Role.VIEWER)
    settings.API_RATE_LIMIT_TOKEN = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "stratus.platform.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    try:
        statuses = [client.get("/api/v1/organization").status_code for _ in range(3)]
    finally:
        caches["default"].close()
    assert statuses == [200, 200, 200]
