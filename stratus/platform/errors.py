"""The one error type that services raise when a business rule refuses a request.

Services (``stratus.<app>.services``) raise ``ApplicationError`` with a human message, a
stable ``code`` and, when the problem is tied to input fields, ``field_errors`` mapping a
field name (dotted for nested input, e.g. ``custom_fields.size``) to a list of messages.
Nothing is written when it is raised: services raise it inside their transaction.

The API layer turns it into an RFC 9457 problem document: ``status`` (400 unless the
raiser chose another, e.g. 409 for a conflict or 422 for a well-formed but refused
request), ``title``/``detail`` from ``message`` and ``errors`` from ``field_errors``.
It lives in platform (which knows nothing of HTTP frameworks) so that services, tasks and
commands can raise it without importing the API package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApplicationError(Exception):
    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, Sequence[str]] | None = None,
        code: str = "invalid",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in (field_errors or {}).items()}
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return f"ApplicationError({self.message!r}, code={self.code!r}, field_errors={self.field_errors!r})"
