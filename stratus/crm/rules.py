"""The CRM's rules for values, stated once.

Every way into the CRM (the API's serializers, the services, CSV imports) normalises and
checks values with these functions, so a domain, an email address or a tag name means the
same thing whichever way it arrived, and a broken rule is reported with the same message.
A rule that fails raises ``RuleError`` naming the field and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

# Longest values, shared by the models' columns, the serializers and the import.
LIMITS: dict[str, int] = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "job_title": 150,
    "phone": 50,
    "company": 200,
    "name": 200,
    "domain": 253,
    "website": 500,
    "industry": 100,
    "city": 100,
    "description": 10_000,
}
TAG_NAME_MAX = 60
MAX_TAGS = 50

EMAIL_INVALID = "Enter a valid email address."
CONTACT_IDENTITY = "A contact needs a first name, a last name or an email."
TAGS_NOT_A_LIST = "Expected a list of tag names."
TAG_EMPTY = "Each tag is a non-empty text."
TAGS_TOO_MANY = f"At most {MAX_TAGS} tags."

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_validate_email = EmailValidator(message=EMAIL_INVALID)


class RuleError(ValueError):
    """A value breaks a CRM rule: ``field`` and a message a user can act on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def too_long(limit: int) -> str:
    return f"Ensure this field has no more than {limit} characters."


def normalise_domain(value: str) -> str:
    """A company's domain as stored and compared: ``https://www.Acme.example/`` -> ``acme.example``.

    Drops the scheme, any user, port, path, query or fragment, a trailing dot and a leading
    ``www.``; lowercases; internationalised names are stored in their ASCII (IDNA) form. An
    empty value stays empty.
    """
    text = value.strip().lower()
    if not text:
        return ""
    text = _SCHEME.sub("", text)
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    if not text or any(char.isspace() for char in text):
        raise RuleError("domain", f"{value.strip()[:100]!r} is not a domain name.")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise RuleError("domain", f"{value.strip()[:100]!r} is not a domain name.") from None
    if len(text) > LIMITS["domain"]:
        raise RuleError("domain", too_long(LIMITS["domain"]))
    return text


def normalise_email(value: str) -> str:
    """An email address as stored (surrounding spaces dropped); empty stays empty."""
    text = value.strip()
    if not text:
        return ""
    if len(text) > LIMITS["email"]:
        raise RuleError("email", too_long(LIMITS["email"]))
    try:
        _validate_email(text)
    except ValidationError:
        raise RuleError("email", EMAIL_INVALID) from None
    return text


def contact_identity(*, email: str) -> str | None:
    """What makes two contacts the same one: their email address, ignoring case (None: no email)."""
    text = email.strip().lower()
    return text or None


def check_contact_has_identity(*, first_name: str, last_name: str, email: str) -> None:
    if not (first_name or last_name or email):
        raise RuleError("first_name", CONTACT_IDENTITY)


def tag_name(value: Any) -> str:
    """One tag name: a non-empty text of at most ``TAG_NAME_MAX`` characters (as given, the
    length the API's schema states), trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError("tags", TAG_EMPTY)
    name = value.strip()
    if len(value) > TAG_NAME_MAX:
        raise RuleError("tags", f"Tag {name[:20]!r}... is longer than {TAG_NAME_MAX} characters.")
    return name


def tag_names(value: Any) -> list[str]:
    """A record's tag names: each checked by ``tag_name``, the first spelling of names equal
    ignoring case kept, at most ``MAX_TAGS``."""
    if value is None:
        return []
    if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
        raise RuleError("tags", TAGS_NOT_A_LIST)
    names: dict[str, str] = {}
    for raw in value:
        name = tag_name(raw)
        names.setdefault(tag_key(name), name)
    if len(names) > MAX_TAGS:
        raise RuleError("tags", TAGS_TOO_MANY)
    return list(names.values())


def tag_key(name: str) -> str:
    """Tags are the same tag when their names are equal ignoring case."""
    return name.lower()
