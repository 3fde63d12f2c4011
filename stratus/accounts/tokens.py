"""API token secrets: high-entropy, shown once, stored as a SHA-256 digest.

A plain SHA-256 (not a slow password hash) is right here: the secret has 256 bits of
entropy, so there is nothing to brute-force, and each request can check it in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core import signing

TOKEN_SECRET_PREFIX = "st_"
TOKEN_DISPLAY_PREFIX_LENGTH = 10


def generate_token_secret() -> str:
    return TOKEN_SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_token_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- links in emails (invitations, sign-up confirmation) ---------------------------------------

INVITATION_SALT = "stratus.accounts.invitation"
SIGNUP_SALT = "stratus.accounts.signup"


class BadLink(Exception):
    """The link was altered, cut short, or not made by this installation."""


@dataclass(frozen=True)
class LinkKey:
    """The secret half of an emailed link and the digest stored to recognise it."""

    key: str
    key_hash: str


def new_link_key() -> LinkKey:
    key = secrets.token_urlsafe(24)
    return LinkKey(key=key, key_hash=hash_token_secret(key))


def sign_link(salt: str, row_id: int, key: str) -> str:
    """``<id>.<key>`` signed (HMAC-SHA256 with SECRET_KEY): a forged or altered link is refused
    before any lookup, and the key (whose digest the row holds) makes re-sending void old links."""
    return signing.Signer(salt=salt, algorithm="sha256", sep="~").sign(f"{row_id}.{key}")


def unsign_link(salt: str, token: str) -> tuple[int, str]:
    """The row id and the key hash of a link; raises BadLink."""
    try:
        value = signing.Signer(salt=salt, algorithm="sha256", sep="~").unsign(token)
    except signing.BadSignature as error:
        raise BadLink(str(error)) from error
    row_id, _, key = value.partition(".")
    if not row_id.isdigit() or not key:
        raise BadLink("malformed link")
    return int(row_id), hash_token_secret(key)
