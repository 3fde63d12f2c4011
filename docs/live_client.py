"""A small Stratus live-update client: prints every event of one organization.

It authenticates with an API token (exchanged for a one-time ticket, so the token never
goes into a URL) or with an email and password (a session cookie, as a browser would),
subscribes, and on any disconnect reconnects with backoff and jitter, resuming from the
last sequence id it processed. On ``resync`` a real client reloads its data from the
REST API; this one says so.

    python docs/live_client.py --email demo@stratus.example --password stratus-demo
    python docs/live_client.py --url https://crm.example.com --token st_...

Needs the ``websockets`` package (a development dependency of Stratus).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import urllib.request
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

RETRYABLE = {1001, 1006, 1011, 1012, 1013, 4408}  # going away, dropped, error, restart, too slow, timeout


def post_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    if urlsplit(url).scheme not in ("http", "https"):
        raise SystemExit(f"--url must be http(s): {url}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"{}"), response.headers.get_all("Set-Cookie") or []


class LiveClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        email: str | None,
        password: str | None,
        organization: str | None,
        max_events: int | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.ws_url = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/ws/"
        self.token, self.email, self.password = token, email, password
        self.organization = organization
        self.last_seq: int | None = None
        self.cookie = ""
        self.remaining = max_events

    def login(self) -> None:
        _body, cookies = post_json(
            f"{self.base_url}/api/v1/auth/login", {"email": self.email, "password": self.password}, {}
        )
        jar = SimpleCookie()
        for header in cookies:
            jar.load(header)
        self.cookie = "; ".join(f"{key}={morsel.value}" for key, morsel in jar.items())

    def subscribe_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "subscribe"}
        if self.token:
            # A fresh ticket for every connection: each works once and lives seconds.
            ticket, _ = post_json(
                f"{self.base_url}/api/v1/realtime/tickets", {}, {"Authorization": f"Bearer {self.token}"}
            )
            message["ticket"] = ticket["ticket"]
        if self.organization:
            message["organization"] = self.organization
        if self.last_seq is not None:
            message["last_seq"] = self.last_seq
        return message

    async def session(self) -> None:
        headers = {"Cookie": self.cookie, "Origin": self.base_url} if self.cookie else {}
        async with connect(self.ws_url, additional_headers=headers) as ws:
            await ws.send(json.dumps(self.subscribe_message()))
            async for raw in ws:
                message = json.loads(raw)
                kind = message["type"]
                if kind == "subscribed":
                    org, role, seq = message["organization"], message["role"], message["seq"]
                    print(f"subscribed to {org} as {role}, latest seq {seq}")
                    if self.last_seq is None:
                        self.last_seq = message["seq"]
                elif kind == "event":
                    print(f"#{message['seq']} {message['event']} {json.dumps(message['data'])}")
                    self.last_seq = message["seq"]
                    if self.remaining is not None:
                        self.remaining -= 1
                        if self.remaining <= 0:
                            return
                elif kind == "resync":
                    print(f"resync: {message['reason']} (continuing after #{message['seq']})")
                    self.last_seq = message["seq"]
                elif kind == "access":
                    print(f"your role is now {message['role']}")
                elif kind == "heartbeat":
                    pass
            sys.stdout.flush()

    async def run(self) -> int:
        if self.email:
            self.login()
        delay = 0.5
        while True:
            try:
                await self.session()
                if self.remaining is not None and self.remaining <= 0:
                    return 0
                code = 1000
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                reason = closed.rcvd.reason if closed.rcvd else "connection lost"
                if code not in RETRYABLE:
                    print(f"closed by the server: {code} {reason}", file=sys.stderr)
                    return 1
                print(f"disconnected ({code} {reason}); reconnecting from #{self.last_seq}", file=sys.stderr)
            except OSError as error:
                code = 1006
                print(f"cannot connect ({error}); retrying", file=sys.stderr)
            await asyncio.sleep(0 if code == 1012 else delay * random.uniform(0.5, 1.5))
            delay = 0.5 if code == 1012 else min(delay * 2, 30.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="Stratus base URL")
    parser.add_argument("--token", help="API token (exchanged for a ticket)")
    parser.add_argument("--email", help="sign in with a session instead of a token")
    parser.add_argument("--password")
    parser.add_argument("--organization", help="organization slug (when you belong to several)")
    parser.add_argument("--events", type=int, help="exit after this many events")
    args = parser.parse_args()
    if not args.token and not (args.email and args.password):
        parser.error("give --token, or --email and --password")
    client = LiveClient(args.url, args.token, args.email, args.password, args.organization, args.events)
    try:
        return asyncio.run(client.run())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
