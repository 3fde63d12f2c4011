"""API token secrets: high-entropy, shown once, stored as a SHA-256 digest.

A plain SHA-256 (not a slow password hash) is right here: the secret has 256 bits of
entropy, so there is nothing to brute-force, and each request can check it in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_SECRET_PREFIX = "st_"
TOKEN_DISPLAY_PREFIX_LENGTH = 10


def generate_token_secret() -> str:
    return TOKEN_SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_token_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
