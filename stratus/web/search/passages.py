"""What the browser shows of a search result: an excerpt of the passage with the query's words in
``<mark>`` (every other character escaped), the record's link and, for a document, the link that
opens the file (a PDF at the passage's page)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from stratus.accounts.models import Organization
from stratus.documents import selectors as document_selectors
from stratus.knowledge.selectors import Result
from stratus.web.search.forms import RECORD_TYPES

PDF = "application/pdf"
TYPE_LABELS = dict(RECORD_TYPES)
RECORD_PAGE = re.compile(r"^/(contacts|companies|deals)/\d+$")
# Words too common to be worth a highlight (a question's "who", "about", "the" ...).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "about",
        "any",
        "all",
        "at",
        "be",
        "by",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "not",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def terms(query: str) -> list[str]:
    """The query's words worth marking, longest first; a long word also matches its other forms
    (its stem: "complained" marks "complaint", "renewal" marks "renewing")."""
    found: set[str] = set()
    for word in re.findall(r"\w+", query.casefold()):
        if len(word) < 3 or word in STOP_WORDS:
            continue
        found.add(word[: max(5, len(word) - 3)] if len(word) >= 7 else word)
    return sorted(found, key=lambda t: (-len(t), t))


def _pattern(query: str) -> re.Pattern[str] | None:
    words = terms(query)
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)


def highlight(text: str, query: str, *, size: int = 320) -> tuple[SafeString, bool]:
    """An excerpt of ``text`` of about ``size`` characters around the first word of ``query``
    found in it, escaped, with those words in ``<mark>``; and whether any word was found (a
    passage found by meaning alone may share none with the question)."""
    text = " ".join(text.split())
    pattern = _pattern(query)
    matches = list(pattern.finditer(text)) if pattern else []
    start = 0
    if matches and matches[0].start() > size // 3:
        start = matches[0].start() - size // 3
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < matches[0].start() else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + size // 2 else end
    parts = ["…" if start > 0 else ""]
    position = start
    for match in matches:
        if match.start() < start or match.end() > end:
            continue
        parts += [escape(text[position : match.start()]), "<mark>", escape(match.group(0)), "</mark>"]
        position = match.end()
    parts += [escape(text[position:end]), "…" if end < len(text) else ""]
    return mark_safe("".join(parts)), bool(matches)  # noqa: S308  every piece of text is escaped


@dataclass(frozen=True)
class Passage:
    """One result as the templates show it."""

    record_type: str
    type_label: str
    record_id: int
    title: str
    href: str  # the record's page (an activity's or a document's: the record it belongs to)
    excerpt: SafeString
    words_marked: bool
    page: int | None
    score: float
    matched_by: tuple[str, ...]
    file_href: str  # a document's file, a PDF at the passage's page; "" otherwise


def document_types(org: Organization, results: Sequence[Result]) -> dict[int, str]:
    """The content types of the organization's documents among ``results`` (one query)."""
    ids = [r.record_id for r in results if r.record_type == "document"]
    return document_selectors.document_content_types(org=org, document_ids=ids)


def passages(org: Organization, results: Sequence[Result], query: str, *, size: int = 320) -> list[Passage]:
    """The results ready to show; a document that is gone (or not the organization's) is left out."""
    types = document_types(org, results)
    shown = []
    for r in results:
        file_href = ""
        if r.record_type == "document":
            if r.record_id not in types:
                continue
            if RECORD_PAGE.match(r.url):
                file_href = f"{r.url}/documents/{r.record_id}/download"
                if r.page and types[r.record_id] == PDF:
                    file_href += f"?view=1#page={r.page}"  # opens in the browser's PDF viewer
        excerpt, marked = highlight(r.text, query, size=size)
        shown.append(
            Passage(
                record_type=r.record_type,
                type_label=str(TYPE_LABELS.get(r.record_type, r.record_type)),
                record_id=r.record_id,
                title=r.title,
                href=r.url,
                excerpt=excerpt,
                words_marked=marked,
                page=r.page,
                score=r.score,
                matched_by=tuple(r.sources),
                file_href=file_href,
            )
        )
    return shown
