"""The errors that services raise when a business rule refuses a request.

Services (``stratus.<app>.services``) raise a subclass of ``ApplicationError`` that says
*what kind* of refusal it is (:class:`Invalid`, :class:`NotFound`, :class:`Conflict`, ...),
with a human message, a stable ``code`` (a member of the app's code enum, e.g.
``stratus.crm.errors.CrmCode``) and, when the problem is tied to input fields,
``field_errors`` mapping a field name (dotted for nested input, e.g. ``custom_fields.size``)
to a list of messages. Nothing is written when one is raised: services raise inside their
transaction.

The HTTP status is not chosen at the raise site: the API's error handler
(``stratus.api.errors``) maps the class to a status through :data:`STATUS_BY_KIND` and turns
the error into an RFC 9457 problem document (``title``/``detail`` from ``message``,
``errors`` from ``field_errors``, ``code``). The browser app maps the same classes to its
pages. This module knows nothing of HTTP frameworks, so services, tasks and commands can
raise these without importing the API package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum


class ApplicationError(Exception):
    """Base of every refusal; raise a subclass. ``code`` is a stable machine-readable name."""

    default_code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, Sequence[str]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in (field_errors or {}).items()}
        self.code = str(code) if code is not None else self.default_code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, field_errors={self.field_errors!r})"
        )


class Invalid(ApplicationError):
    """The input breaks a rule (a field's value, a combination of fields)."""

    default_code = "invalid"


class Forbidden(ApplicationError):
    """The caller may not do this (a role too low, a grant above one's own role)."""

    default_code = "forbidden"


class NotFound(ApplicationError):
    """The named row does not exist in the caller's organization (or was just deleted)."""

    default_code = "not_found"


class Conflict(ApplicationError):
    """The request is valid but the current state refuses it (a duplicate, a wrong state)."""

    default_code = "conflict"


class PreconditionFailed(Conflict):
    """A precondition the client set does not hold (``If-Match`` naming a version that is no longer
    the stored one); raised by the HTTP layer for a ``Conflict`` the precondition asked for."""

    default_code = "precondition_failed"


class Gone(ApplicationError):
    """The thing existed and cannot be used any more (an expired link, a used invitation)."""

    default_code = "gone"


class TooLarge(ApplicationError):
    """The input is bigger than the limit (a file, a batch)."""

    default_code = "too_large"


class UnsupportedMedia(ApplicationError):
    """The input's type is not one that is accepted (a file's content type)."""

    default_code = "unsupported_media_type"


class Unprocessable(ApplicationError):
    """Well-formed input that cannot be acted on (e.g. a campaign with nobody to send to)."""

    default_code = "unprocessable"


class RateLimited(ApplicationError):
    """Too many attempts; ``retry_after`` says in how many seconds to try again, when known."""

    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(ApplicationError):
    """A service this request needs is down for now; ``retry_after`` says in how many seconds to
    try again (sent as ``Retry-After``)."""

    default_code = "unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


# The one place that decides the HTTP status of each kind of refusal (see stratus.api.errors).
STATUS_BY_KIND: dict[type[ApplicationError], int] = {
    Invalid: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    Gone: 410,
    TooLarge: 413,
    UnsupportedMedia: 415,
    Unprocessable: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error: ApplicationError) -> int:
    """The HTTP status of ``error``: its kind's (the nearest base in STATUS_BY_KIND), else 400."""
    for kind in type(error).__mro__:
        if kind in STATUS_BY_KIND:
            return STATUS_BY_KIND[kind]
    return 400


class PlatformCode(StrEnum):
    """Codes raised by platform code shared by every app."""

    LOCKED = "locked"
