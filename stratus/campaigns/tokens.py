"""Signed links in campaign emails: unsubscribe, open pixel, click redirect (HMAC-SHA256)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

UNSUBSCRIBE_SALT = "stratus.campaigns.unsubscribe"
OPEN_SALT = "stratus.campaigns.open"
CLICK_SALT = "stratus.campaigns.click"


class BadToken(Exception):
    """The link was altered or was not made by this installation."""


def _sign(salt: str, value: str) -> str:
    return signing.Signer(salt=salt, algorithm="sha256").sign(value)


def _unsign(salt: str, token: str) -> str:
    try:
        return signing.Signer(salt=salt, algorithm="sha256").unsign(token)
    except signing.BadSignature as error:
        raise BadToken(str(error)) from error


def _recipient_id(value: str) -> int:
    if not value.isdigit():
        raise BadToken("not a recipient")
    return int(value)


def unsubscribe_token(recipient_id: int) -> str:
    return _sign(UNSUBSCRIBE_SALT, str(recipient_id))


def unsubscribe_recipient(token: str) -> int:
    return _recipient_id(_unsign(UNSUBSCRIBE_SALT, token))


def unsubscribe_url(recipient_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/c/u/{unsubscribe_token(recipient_id)}/"


def open_url(recipient_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/c/o/{_sign(OPEN_SALT, str(recipient_id))}/"


def open_recipient(token: str) -> int:
    return _recipient_id(_unsign(OPEN_SALT, token))


@dataclass(frozen=True)
class Click:
    recipient_id: int
    url: str


def click_url(recipient_id: int, target: str) -> str:
    token = signing.dumps({"r": recipient_id, "u": target}, salt=CLICK_SALT, compress=True)
    return f"{settings.PUBLIC_BASE_URL}/c/c/{token}/"


def click_target(token: str) -> Click:
    try:
        data = signing.loads(token, salt=CLICK_SALT)
    except signing.BadSignature as error:
        raise BadToken(str(error)) from error
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("u"), str):
        raise BadToken("malformed click token")
    if not data["u"].startswith(("http://", "https://")):
        raise BadToken("not a web link")
    return Click(recipient_id=data["r"], url=data["u"])
