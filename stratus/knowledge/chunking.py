"""Passages: a text cut into overlapping chunks at word boundaries, each with its position."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Chunk:
    start: int  # offset of the first character in the text
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _back_to_space(text: str, start: int, end: int) -> int:
    """``end`` moved back to just after the last whitespace in the second half of the window."""
    for position in range(end, start + (end - start) // 2, -1):
        if _SPACE.match(text, position - 1):
            return position
    return end


def chunk(text: str, *, size: int, overlap: int) -> list[Chunk]:
    """Cut ``text`` into chunks of at most ``size`` characters; each starts ``overlap`` characters
    (moved to a word boundary) before the previous one ended, so a sentence cut in two is whole
    in one of them. Empty and blank texts have no chunk."""
    if not text.strip():
        return []
    chunks: list[Chunk] = []
    start = len(text) - len(text.lstrip())
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            end = _back_to_space(text, start, end)
        piece = text[start:end].rstrip()
        if piece:
            chunks.append(Chunk(start, piece))
        if end >= len(text):
            break
        next_start = max(start + 1, end - overlap)
        # Start the overlap on a word, not inside one.
        while next_start < end and not _SPACE.match(text, next_start - 1):
            next_start += 1
        while next_start < len(text) and _SPACE.match(text, next_start):
            next_start += 1
        start = next_start
    return chunks
