"""The codes of the CRM's refusals, and the one "not found" every CRM read and write raises.

A refusal is a kind (``stratus.platform.errors``: ``Invalid``, ``NotFound``, ``Conflict``...)
that decides the HTTP status, and a code from :class:`CrmCode` that API clients see in the
problem document (``type`` ``urn:stratus:problem:<code>`` and each field error's ``code``).
The values are part of the API: renaming a member is fine, changing a value is not.
"""

from __future__ import annotations

from enum import StrEnum

from stratus.platform.errors import NotFound


class CrmCode(StrEnum):
    INVALID = "invalid"
    """Some fields break a rule; ``field_errors`` names each."""
    CONFLICT = "conflict"
    """A value must be unique and is taken (an email, a pipeline or stage name, a field key)."""
    NOT_FOUND = "not_found"
    """No such record in the organization (or it was just deleted)."""
    PROTECTED = "protected"
    """The record is still needed (a pipeline with deals, a pipeline's last stage)."""
    INVALID_FILTER = "invalid_filter"
    """A list's query parameters (filters, ordering) are invalid."""
    STALE = "stale"
    """The record changed since the version the caller read (a colleague's save came first);
    nothing was written. Read it again and decide."""


def not_found(label: str) -> NotFound:
    """The refusal for a missing ``label`` row ("Contact not found."), the same for reads and writes."""
    return NotFound(f"{label} not found.", code=CrmCode.NOT_FOUND)
