"""The client's address: the one rule every Stratus server process uses (WSGI, ASGI, logs, limits).

The TCP peer is the client unless it is a trusted proxy (TRUSTED_PROXIES: addresses or CIDR
networks). Then X-Forwarded-For is read from the right, one hop at a time: each entry was
written by the hop to its right, so an entry is believed only while the hop that wrote it is
trusted. The first entry that is not a trusted proxy is the client; anything to its left
was supplied by the client and is ignored. If every hop is trusted, the leftmost is the client.
An entry that is not an IP address ends the walk at the trusted hop that passed it on (a
proxy should never write one, and a client-chosen string must never become a rate-limit key).

This module imports nothing from Django, so gunicorn's configuration file can use it too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 clients get a whole /64 from their provider (often a /48 or /56): rate limits count
# that prefix, or an attacker would rotate through 2^64 addresses.
IPV6_LIMIT_PREFIX = 64
# A header longer than this is not a chain of proxies; only its right end is read.
MAX_HOPS = 20


class TrustedProxiesError(ValueError):
    """A TRUSTED_PROXIES entry that is neither an IP address nor a CIDR network."""


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from addresses or CIDRs ("10.0.0.0/8", "127.0.0.1", "fd00::/8").

    Raises TrustedProxiesError naming the first malformed entry. Host bits set in a network
    ("10.0.0.1/8") are refused rather than silently widened.
    """
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if entry == "*":
            raise TrustedProxiesError(
                "'*' would let any client choose its own address; list the proxies' addresses or networks"
            )
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as error:
            raise TrustedProxiesError(f"{entry!r} is not an IP address or CIDR network ({error})") from None
    return tuple(networks)


def parse_address(value: str) -> IPAddress | None:
    """An address from one X-Forwarded-For entry or a peer: bare, with a port, bracketed IPv6,
    with an IPv6 zone; IPv4-mapped IPv6 becomes IPv4. None for anything else."""
    text = value.strip().strip('"')
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end == -1 or (text[end + 1 :] and not _is_port(text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port
        host, port = text.split(":")
        if not _is_port(":" + port):
            return None
        text = host
    text = text.split("%", 1)[0]  # IPv6 zone id (fe80::1%eth0)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and 0 < len(text) <= 6


def is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def resolve_client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The client's address as text, by the rule in this module's docstring.

    `peer` is the TCP peer (REMOTE_ADDR); `forwarded_for` every X-Forwarded-For value,
    comma-joined. A peer that is not an IP address (a Unix socket) is returned as it is.
    """
    peer_address = parse_address(peer or "")
    if peer_address is None:
        return (peer or "").strip() or "unknown"
    client = peer_address
    if not trusted or not forwarded_for or not is_trusted(client, trusted):
        return str(client)
    hops = forwarded_for.split(",")[-MAX_HOPS:]
    for entry in reversed(hops):
        hop = parse_address(entry)
        if hop is None:
            break  # garbage from the hop we trust: that hop is the nearest address we know
        client = hop
        if not is_trusted(hop, trusted):
            break
    return str(client)


def limit_key(address: str) -> str:
    """The rate-limit identity of a client address: IPv4 as is, IPv6 by its /64."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_LIMIT_PREFIX}", strict=False))
    return str(parsed) if parsed is not None else address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_trusted_proxies(entries)


def configured_proxies() -> tuple[IPNetwork, ...]:
    from django.conf import settings

    return _networks(tuple(settings.TRUSTED_PROXIES))


def client_address(request: Any) -> str:
    """The client address of a Django (or DRF) request, computed once per request."""
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, "_stratus_client_address", None)
    if cached is not None:
        return str(cached)
    meta: Mapping[str, Any] = django_request.META
    address = resolve_client_address(
        meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), configured_proxies()
    )
    django_request._stratus_client_address = address
    return address


class ForwardedClientMiddleware:
    """ASGI: the scope's client (and scheme, from X-Forwarded-Proto) by the same rule, for HTTP
    and WebSocket alike. Uvicorn's own proxy-header handling is switched off (entrypoint), so
    this is the only place an ASGI process reads forwarding headers."""

    def __init__(self, app: Any, trusted: Sequence[IPNetwork] | None = None) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            trusted = self.trusted if self.trusted is not None else configured_proxies()
            peer = parse_address(str(scope["client"][0]))
            if trusted and peer is not None and is_trusted(peer, trusted):
                headers = scope.get("headers") or []
                forwarded = ", ".join(v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for")
                proto = next(
                    (v.decode("latin-1").strip() for k, v in headers if k == b"x-forwarded-proto"), ""
                )
                scope = dict(scope)
                client = resolve_client_address(str(peer), forwarded, trusted)
                if client != str(peer):
                    scope["client"] = (client, 0)
                if proto in ("http", "https"):
                    secure = proto == "https"
                    scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else proto
        await self.app(scope, receive, send)
