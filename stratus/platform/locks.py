"""Cluster-wide locks.

PostgreSQL advisory locks serialise work that must happen once across all
replicas (applying migrations). They are held by a database session, so a
process that dies releases its lock with its connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(
    connection: BaseDatabaseWrapper,
    name: str,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold a session-level advisory lock for the block; a no-op off PostgreSQL."""
    if connection.vendor != "postgresql":
        yield
        return
    key = advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
        if not acquired:
            if on_wait is not None:
                on_wait()
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
