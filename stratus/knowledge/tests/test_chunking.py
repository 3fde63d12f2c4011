from __future__ import annotations

import itertools
import random

from stratus.knowledge.chunking import chunk


def test_chunks_overlap_at_word_boundaries_and_say_where_they_are() -> None:
    rng = random.Random(3)
    words = ["renewal", "contract", "onboarding", "a", "Acme", "discount", "quarterly", "the"]
    text = "  " + " ".join(rng.choice(words) for _ in range(600))
    chunks = chunk(text, size=200, overlap=50)
    assert len(chunks) > 10
    for piece in chunks:
        assert text[piece.start : piece.end] == piece.text
        assert len(piece.text) <= 200
        assert piece.start == 0 or text[piece.start - 1] == " "  # starts on a word
        assert piece.end == len(text) or text[piece.end] == " "  # ends on a word
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start < before.end  # they overlap and move on
    assert chunks[-1].end == len(text)


def test_blank_text_has_no_chunk_and_a_long_word_is_cut() -> None:
    assert chunk("   \n ", size=100, overlap=10) == []
    pieces = chunk("x" * 250, size=100, overlap=10)
    assert [len(p.text) for p in pieces] == [100, 100, 50]
    assert [p.start for p in pieces] == [0, 100, 200]
