"""A record's version as an HTTP entity tag (RFC 9110 §8.8.3), and the ``If-Match`` precondition.

The version is the record's ``updated_at``, which every save moves on: the tag is its time in
microseconds since the epoch, quoted (a strong tag: two saves never share it). A write that sends
``If-Match`` with the tag it read passes it to the crm service as ``expected_updated_at``; the
service compares it under the row lock and refuses a record that changed since
(``Conflict``, ``CrmCode.STALE``). ``If-Unmodified-Since`` is not offered: an HTTP-date counts
whole seconds, so two saves within one second would pass it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from stratus.crm.errors import CrmCode
from stratus.crm.services._kit import STALE_MESSAGE, check_unchanged
from stratus.platform.errors import Conflict

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
_STRONG_TAG = re.compile(r'"(\d{1,20})"')
_MAX_TAGS = 20

__all__ = ["check_unchanged", "etag", "expected_version", "version_of"]


def etag(record: Any) -> str:
    """The entity tag of ``record``'s current version."""
    return f'"{(record.updated_at - EPOCH) // MICROSECOND}"'


def version_of(tag: str) -> datetime.datetime | None:
    """The ``updated_at`` a tag made by :func:`etag` stands for; None for any other tag (weak
    tags never match in ``If-Match``: it compares strongly)."""
    found = _STRONG_TAG.fullmatch(tag.strip())
    if found is None:
        return None
    try:
        return EPOCH + int(found.group(1)) * MICROSECOND
    except OverflowError:
        return None


def expected_version(if_match: str, current: datetime.datetime) -> datetime.datetime | None:
    """The version an ``If-Match`` header asks a write to start from.

    ``*``: any version (None, no check). Otherwise the listed version equal to ``current`` (the
    record as the request read it), else the first one listed: the service, comparing under its
    lock, refuses it. A header that names none of our versions is refused here.
    """
    tags = [tag.strip() for tag in if_match.split(",")[:_MAX_TAGS] if tag.strip()]
    if "*" in tags:
        return None
    versions = [version for version in map(version_of, tags) if version is not None]
    if not versions:
        raise Conflict(STALE_MESSAGE, code=CrmCode.STALE)
    return current if current in versions else versions[0]
