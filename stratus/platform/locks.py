"""Cluster-wide locks.

PostgreSQL advisory locks serialise work that must happen once across all
replicas (applying migrations). They are held by a database session, so a
process that dies releases its lock with its connection.

``lock_row`` is the row lock every service takes before a read-modify-write or a delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

from stratus.platform.errors import NotFound

M = TypeVar("M", bound=Model)


def lock_row(rows: QuerySet[M], *, pk: Any, label: str) -> M:
    """Row ``pk`` of ``rows`` (already scoped to the caller's organization), locked with
    ``SELECT ... FOR UPDATE`` until the caller's transaction ends (only that row, not the rows
    ``rows`` joins with ``select_related``).

    A row that is not there, typically because a concurrent request deleted it after the
    caller looked it up, is a 404 ``ApplicationError`` naming ``label``, never a
    ``DoesNotExist``: the loser of a race learns that the record is gone.
    """
    found = rows.select_for_update(of=("self",)).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"{label} not found.", code="not_found")
    return found


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
