"""Splitting text into overlapping chunks for a search index: a pure function, no Django.

Chunks end at sentence boundaries when one is near (else at a word boundary, else anywhere
for an endless "word"), never cross a page boundary (so each has one page to open at), and
the next chunk starts about ``overlap`` characters before the previous one ended, at a
sentence or word start, so a passage cut in two is whole in one of them. ``start`` and ``end``
are offsets in the original text: ``text[start:end] == chunk.text``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

# A sentence ends after ., ! or ? (and closing quotes/brackets) followed by a space, or at a
# blank line; a paragraph or line break also counts as a boundary.
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s+|\n\s*\n|\n")
_WORD_START = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int
    page: int | None  # 1-based page of a PDF, None for text without pages


def _boundaries(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[int]:
    return [match.end() for match in pattern.finditer(text, start, end)]


def _cut(text: str, start: int, limit: int, size: int) -> int:
    """Where a chunk starting at ``start`` ends: the last sentence end in its second half, else
    the last word boundary, else ``start + size``."""
    end = min(start + size, limit)
    if end >= limit:
        return limit
    floor = start + size // 2
    sentences = [b for b in _boundaries(text, _SENTENCE_END, floor, end) if b <= end]
    if sentences:
        return sentences[-1]
    words = [b for b in _boundaries(text, _WORD_START, floor, end) if b <= end]
    return words[-1] if words else end


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """Where the next chunk starts: a sentence (else word) start within ``overlap`` before ``end``."""
    if overlap <= 0:
        return end
    floor = max(start + 1, end - overlap)
    sentences = [b for b in _boundaries(text, _SENTENCE_END, floor, end) if b < end]
    if sentences:
        return sentences[0]
    words = [b for b in _boundaries(text, _WORD_START, floor, end) if b < end]
    return words[0] if words else end


def chunk_text(
    text: str, *, page_starts: list[int] | None = None, size: int = 1000, overlap: int = 150
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``size`` characters overlapping by about ``overlap``.

    ``page_starts[i]`` is the offset where page ``i + 1`` begins (as stored in ``DocumentText``).
    Chunks of only whitespace are left out; indexes count the chunks returned.
    """
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("size must be positive and overlap between 0 and size - 1")
    starts = sorted(page_starts or [])
    segments: list[tuple[int, int, int | None]] = []
    if starts:
        bounds = [*starts, len(text)]
        if bounds[0] > 0:
            segments.append((0, bounds[0], 1))
        for number, (begin, finish) in enumerate(itertools.pairwise(bounds), start=1):
            segments.append((begin, finish, number))
    else:
        segments.append((0, len(text), None))

    chunks: list[Chunk] = []
    for begin, finish, page in segments:
        position = begin
        while position < finish:
            # Skip leading whitespace so chunks start at a word.
            while position < finish and text[position].isspace():
                position += 1
            if position >= finish:
                break
            end = _cut(text, position, finish, size)
            piece = text[position:end].rstrip()
            if piece:
                chunks.append(Chunk(len(chunks), piece, position, position + len(piece), page))
            if end >= finish:
                break
            position = _next_start(text, position, end, overlap)
    return chunks


def page_at(page_starts: list[int], offset: int) -> int | None:
    """The 1-based page holding character ``offset`` (None without pages)."""
    if not page_starts:
        return None
    return max(1, bisect.bisect_right(sorted(page_starts), offset))
