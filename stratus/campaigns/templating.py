"""Campaign templates: merge fields substituted into text, never template code executed.

A template is plain text (or HTML) with ``{{ field }}`` placeholders, optionally with a
fallback: ``{{ contact.first_name|default:"there" }}``. Nothing else is interpreted: Django
or Jinja tags, filters other than ``default`` and unknown fields are refused when the
campaign is saved, with the offending text named. Values are HTML-escaped in the HTML part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# {{ name }} or {{ name|default:"fallback" }} (single or double quotes)
PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*"
    r"(?:\|\s*default\s*:\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)')\s*)?\}\}"
)
ANY_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)

CONTACT_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "job_title")
COMPANY_FIELDS = ("name", "domain", "website")
SENDER_FIELDS = ("name", "email")
STATIC_FIELDS = frozenset(
    [f"contact.{f}" for f in CONTACT_FIELDS]
    + [f"company.{f}" for f in COMPANY_FIELDS]
    + [f"sender.{f}" for f in SENDER_FIELDS]
    + ["unsubscribe_url", "organization.name"]
)
CUSTOM_PREFIX = "contact.custom."


class TemplateError(ValueError):
    """A template uses something other than the allowed merge fields."""


@dataclass(frozen=True)
class Placeholder:
    name: str
    default: str | None


def placeholders(template: str) -> list[Placeholder]:
    """The merge fields of ``template``; raises ``TemplateError`` naming anything not allowed."""
    found: list[Placeholder] = []
    for match in ANY_TAG.finditer(template):
        text = match.group(0)
        parsed = PLACEHOLDER.fullmatch(text)
        if parsed is None:
            raise TemplateError(
                f"{text[:60]!r} is not a merge field; use {{{{ contact.first_name }}}} or "
                f'{{{{ contact.first_name|default:"there" }}}}'
            )
        name = parsed.group("name")
        if name not in STATIC_FIELDS and not name.startswith(CUSTOM_PREFIX):
            allowed = ", ".join(sorted(STATIC_FIELDS))
            raise TemplateError(f"unknown merge field {name!r}; allowed: {allowed}, contact.custom.<key>")
        default = parsed.group("dq") if parsed.group("dq") is not None else parsed.group("sq")
        found.append(Placeholder(name, default))
    return found


def validate(template: str) -> None:
    placeholders(template)


def render(template: str, values: Mapping[str, str], *, escape: bool) -> str:
    """Substitute merge fields; a missing or empty value uses the fallback, else ''."""

    def substitute(match: re.Match[str]) -> str:
        parsed = PLACEHOLDER.fullmatch(match.group(0))
        if parsed is None:  # validated on save; an unparseable tag renders as nothing
            return ""
        value = values.get(parsed.group("name"), "")
        if not value:
            value = parsed.group("dq") or parsed.group("sq") or ""
        return html.escape(value) if escape else value

    return ANY_TAG.sub(substitute, template)


TAG = re.compile(r"<[^>]+>")
BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr)>|<br\s*/?>", re.IGNORECASE)


def html_to_text(body: str) -> str:
    """A plain-text part from an HTML body when the author wrote none."""
    text = BLOCK_END.sub("\n", body)
    text = TAG.sub("", text)
    text = html.unescape(text)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def rewrite_links(body: str, wrap: Callable[[str], str]) -> str:
    """Point every http(s) link of an HTML body at ``wrap(url)`` (the signed click redirect)."""

    def replace(match: re.Match[str]) -> str:
        target = wrap(html.unescape(match.group(3)))
        return f"{match.group(1)}{match.group(2)}{html.escape(target)}{match.group(2)}"

    return HREF.sub(replace, body)
