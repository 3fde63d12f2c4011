from __future__ import annotations

from typing import Any

import pytest

from stratus.realtime.auth import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("https://crm.example.com", "crm.example.com", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:3000", "127.0.0.1:8000", False),  # another port is another site
        ("https://evil.example", "crm.example.com", False),
        ("https://crm.example.com.evil.example", "crm.example.com", False),
        (None, "crm.example.com", False),
        ("null", "crm.example.com", False),
        ("https://app.partner.example", "crm.example.com", True),  # trusted exactly
        ("https://eu.corp.example", "crm.example.com", True),  # trusted by subdomain pattern
        ("http://eu.corp.example", "crm.example.com", False),  # pattern is for https only
        ("https://corp.example.evil.example", "crm.example.com", False),
    ],
)
def test_cookie_sockets_follow_the_csrf_origin_rule(
    settings: Any, origin: str | None, host: str, allowed: bool
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.partner.example", "https://*.corp.example"]
    assert origin_allowed(origin, host) is allowed
