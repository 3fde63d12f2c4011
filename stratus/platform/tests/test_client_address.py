"""The client address: X-Forwarded-For is believed only through TRUSTED_PROXIES, from the right."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from stratus.api.tests.test_throttling import in_one_window
from stratus.api.throttling import AnonymousRateThrottle
from stratus.platform.client_address import (
    ForwardedClientMiddleware,
    TrustedProxiesError,
    limit_key,
    parse_address,
    parse_trusted_proxies,
    resolve_client_address,
)
from testsupport.processes import PROJECT_DIR

NGINX = parse_trusted_proxies(["10.0.0.0/24"])
TWO_TIERS = parse_trusted_proxies(["10.0.0.0/24", "192.168.5.7", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # Nothing trusted (the embedded default): the header is ignored.
        ("203.0.113.9", "198.51.100.1", (), "203.0.113.9"),
        # An untrusted peer cannot choose its address, however it writes the header.
        ("203.0.113.9", "198.51.100.1", NGINX, "203.0.113.9"),
        # Behind the trusted Nginx: the entry Nginx wrote.
        ("10.0.0.2", "198.51.100.1", NGINX, "198.51.100.1"),
        # What the client sent itself sits left of it and is ignored.
        ("10.0.0.2", "1.1.1.1, 2.2.2.2, 198.51.100.1", NGINX, "198.51.100.1"),
        # Two trusted tiers (load balancer, then Nginx): the walk goes through both.
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 192.168.5.7", TWO_TIERS, "198.51.100.1"),
        # ... but stops at the first untrusted hop, even if a trusted-looking one is left of it.
        ("10.0.0.2", "10.0.0.9, 198.51.100.1, 192.168.5.7", TWO_TIERS, "198.51.100.1"),
        # Every hop trusted (a client inside the proxies' network): the leftmost.
        ("10.0.0.2", "10.0.0.7", NGINX, "10.0.0.7"),
        # Trusted peer without a header: the peer itself.
        ("10.0.0.2", None, NGINX, "10.0.0.2"),
        ("10.0.0.2", "", NGINX, "10.0.0.2"),
        # Garbage from a trusted hop ends the walk at that hop, never at the string.
        ("10.0.0.2", "unknown", NGINX, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, <script>", NGINX, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, , ", NGINX, "10.0.0.2"),
        ("10.0.0.2", "_hidden, 10.0.0.5", NGINX, "10.0.0.5"),
        ("10.0.0.2", "1.2.3.4.5", NGINX, "10.0.0.2"),
        ("10.0.0.2", "x" * 10_000, NGINX, "10.0.0.2"),
        # Ports, brackets, quotes, IPv4-mapped IPv6 and zones are understood.
        ("10.0.0.2", "198.51.100.1:4711", NGINX, "198.51.100.1"),
        ("10.0.0.2", '"[2001:db8::1]:443"', NGINX, "2001:db8::1"),
        ("10.0.0.2", "::ffff:198.51.100.1", NGINX, "198.51.100.1"),
        ("::ffff:10.0.0.2", "198.51.100.1", NGINX, "198.51.100.1"),
        ("10.0.0.2", "fe80::1%eth0", NGINX, "fe80::1"),
        # IPv6 proxies and clients.
        ("fd00::2", "2001:db8::42", TWO_TIERS, "2001:db8::42"),
        ("fd00::2", "2001:db8::42, fd00::3", TWO_TIERS, "2001:db8::42"),
        ("2001:db8::5", "198.51.100.1", TWO_TIERS, "2001:db8::5"),
        # Not an IP peer (a Unix socket): as it is, the header ignored.
        ("", "198.51.100.1", NGINX, "unknown"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str, forwarded: str | None, trusted: Any, expected: str
) -> None:
    assert resolve_client_address(peer, forwarded, trusted) == expected


def test_a_very_long_chain_is_read_only_at_its_right_end() -> None:
    chain = ", ".join(["10.0.0.9"] * 5000 + ["198.51.100.1"])
    assert resolve_client_address("10.0.0.2", chain, NGINX) == "198.51.100.1"
    trusted_only = ", ".join(["10.0.0.9"] * 5000)
    assert resolve_client_address("10.0.0.2", trusted_only, NGINX) == "10.0.0.9"


def test_trusted_proxies_are_addresses_or_networks_and_nothing_else() -> None:
    assert [str(n) for n in parse_trusted_proxies([" 127.0.0.1 ", "", "10.0.0.0/8", "::1", "fd00::/8"])] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
        "fd00::/8",
    ]
    for bad in ("*", "nginx", "10.0.0.1/8", "10.0.0.0/33", "1.2.3"):
        with pytest.raises(TrustedProxiesError):
            parse_trusted_proxies([bad])


def test_addresses_parse_strictly() -> None:
    assert str(parse_address("[::1]")) == "::1"
    for garbage in ("", "[::1", "[::1]x", "1.2.3.4:", "1.2.3.4:port", "1.2.3.4:9999999", "localhost"):
        assert parse_address(garbage) is None, garbage


def test_rate_limits_count_ipv6_clients_by_their_64_prefix() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.1") == "198.51.100.1"


@pytest.mark.subprocess
def test_a_malformed_setting_stops_start_up_naming_it() -> None:
    from testsupport.processes import run_python

    result = run_python("import django; django.setup()", env={"TRUSTED_PROXIES": "10.0.0.0/8,nginx"})
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: is malformed" in result.stderr
    assert "'nginx'" in result.stderr
    base = run_python("import django; django.setup()", env={"LOGIN_LOCKOUT_BASE_SECONDS": "0"})
    assert "LOGIN_LOCKOUT_BASE_SECONDS: is 0.0; expected seconds > 0" in base.stderr
    legacy = run_python("import django; django.setup()", env={"FORWARDED_ALLOW_IPS": "*"})
    assert legacy.returncode != 0
    assert "FORWARDED_ALLOW_IPS: is no longer read; set TRUSTED_PROXIES" in legacy.stderr


# --- ASGI: the same rule for the scope of HTTP and WebSocket requests ---------------------------


def asgi_scope(kind: str, peer: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": kind, "client": (peer, 5555), "scheme": "http", "headers": list(headers)}


def seen_by_app(scope: dict[str, Any], trusted: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(inner: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(inner)

    asyncio.run(ForwardedClientMiddleware(app, trusted)(scope, None, None))
    return seen


def test_asgi_scopes_get_the_client_and_scheme_through_trusted_proxies_only() -> None:
    headers = ((b"x-forwarded-for", b"6.6.6.6, 198.51.100.1"), (b"x-forwarded-proto", b"https"))
    http = seen_by_app(asgi_scope("http", "10.0.0.2", *headers), NGINX)
    assert http["client"] == ("198.51.100.1", 0)
    assert http["scheme"] == "https"
    ws = seen_by_app(asgi_scope("websocket", "10.0.0.2", *headers), NGINX)
    assert ws["client"] == ("198.51.100.1", 0)
    assert ws["scheme"] == "wss"
    direct = seen_by_app(asgi_scope("http", "203.0.113.9", *headers), NGINX)
    assert direct["client"] == ("203.0.113.9", 5555)
    assert direct["scheme"] == "http"
    untrusting = seen_by_app(asgi_scope("http", "10.0.0.2", *headers), ())
    assert untrusting["client"] == ("10.0.0.2", 5555)


# --- Django: the throttle and the request log use it ---------------------------------------------


def login(client: Client, peer: str, forwarded: str | None = None) -> int:
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(
        "/api/v1/auth/login",
        {"email": "nobody@example.com", "password": "wrong"},
        content_type="application/json",
        **extra,  # type: ignore[arg-type]
    ).status_code


@pytest.mark.django_db
def test_clients_behind_the_proxy_have_their_own_budget_and_cannot_rotate_it(
    client: Client, settings
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.API_RATE_LIMIT_ANONYMOUS = 3
    settings.LOGIN_LOCKOUT_FREE_FAILURES = 100  # this test is about the per-address limit
    attacker = in_one_window(
        lambda: [login(client, "10.0.0.2", f"203.0.113.{i}, 198.51.100.1") for i in range(6)]
    )
    assert attacker.count(429) == 3, attacker
    # Another client behind the same proxy is not affected.
    assert login(client, "10.0.0.2", "198.51.100.2") == 400


@pytest.mark.django_db
def test_the_header_of_an_untrusted_peer_does_not_spread_its_budget(client: Client, settings) -> None:
    settings.TRUSTED_PROXIES = []
    settings.API_RATE_LIMIT_ANONYMOUS = 3
    settings.LOGIN_LOCKOUT_FREE_FAILURES = 100
    statuses = in_one_window(lambda: [login(client, "203.0.113.7", f"198.51.100.{i}") for i in range(6)])
    assert statuses.count(429) == 3, statuses


@pytest.mark.django_db
def test_ipv6_clients_share_the_budget_of_their_64(client: Client, settings) -> None:
    settings.TRUSTED_PROXIES = []
    settings.API_RATE_LIMIT_ANONYMOUS = 3
    settings.LOGIN_LOCKOUT_FREE_FAILURES = 100
    statuses = in_one_window(lambda: [login(client, f"2001:db8:7:7::{i:x}") for i in range(1, 7)])
    assert statuses.count(429) == 3, statuses
    assert login(client, "2001:db8:7:8::1") == 400


@pytest.mark.django_db
def test_the_request_log_names_the_client(client: Client, settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    with caplog.at_level(logging.INFO, logger="stratus.request"):
        client.get("/health/live", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.3")
        client.get("/health/live", REMOTE_ADDR="203.0.113.4", HTTP_X_FORWARDED_FOR="6.6.6.6")
    clients = [getattr(r, "client", None) for r in caplog.records if r.name == "stratus.request"]
    assert clients == ["198.51.100.3", "203.0.113.4"]


# --- Class guards: every anonymous endpoint is limited per client; nothing else reads the headers


def _walk(patterns: list[Any]) -> Iterator[Any]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def test_every_api_view_that_takes_writes_from_anonymous_clients_is_limited_per_client_address() -> None:
    anonymous = []
    for pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "cls", None)
        if view is None or not issubclass(view, APIView):
            continue
        writes = [m for m in ("post", "put", "patch", "delete") if hasattr(view, m)]
        permissions = list(view.permission_classes)
        if writes and (not view.authentication_classes or AllowAny in permissions):
            anonymous.append(str(pattern.pattern))
            assert AnonymousRateThrottle in view.throttle_classes, (
                f"{pattern.pattern} ({view.__name__}) serves clients without credentials but is not "
                "limited per client address (AnonymousRateThrottle)"
            )
    assert any(route.endswith("auth/login") for route in anonymous), anonymous
    assert any(route.endswith("signup") for route in anonymous), anonymous


READS_ADDRESS = re.compile(
    r"REMOTE_ADDR|HTTP_X_FORWARDED_FOR|HTTP_X_REAL_IP|[\"']x-(forwarded-for|real-ip)[\"']", re.I
)


def test_only_the_client_address_module_reads_forwarding_headers_or_the_peer() -> None:
    readers = []
    roots = [PROJECT_DIR / "stratus", PROJECT_DIR / "deploy"]
    for root in roots:
        for path in root.rglob("*.py"):
            if "tests" in path.relative_to(PROJECT_DIR).parts or path.name == "client_address.py":
                continue
            code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
            if READS_ADDRESS.search(code):
                readers.append(str(path.relative_to(PROJECT_DIR)))
    assert readers == ["deploy/gunicorn.conf.py"], readers  # which passes them to resolve_client_address


def test_the_deploy_check_names_a_missing_or_all_trusting_proxy_setting(settings) -> None:
    from stratus.platform.checks import trusted_proxies

    settings.PRODUCTION = True
    settings.TRUSTED_PROXIES = []
    assert [m.id for m in trusted_proxies()] == ["stratus.W009"]
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "0.0.0.0/0"]
    assert [m.id for m in trusted_proxies()] == ["stratus.E009"]
    settings.TRUSTED_PROXIES = ["172.31.250.0/24"]
    assert trusted_proxies() == []
    settings.PRODUCTION = False
    settings.TRUSTED_PROXIES = []
    assert trusted_proxies() == []
