"""Chunking of extracted text: sizes, overlap, sentence boundaries, pages and offsets."""

from __future__ import annotations

import itertools

import pytest

from stratus.documents.text.chunks import chunk_text, page_at

SENTENCES = " ".join(f"Sentence number {i} talks about renewal terms and pricing." for i in range(60))


def test_chunks_map_back_to_the_text_and_respect_the_size() -> None:
    chunks = chunk_text(SENTENCES, size=300, overlap=80)
    assert len(chunks) > 5
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert SENTENCES[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= 300
        assert chunk.page is None


def test_chunks_end_at_sentences_and_overlap() -> None:
    chunks = chunk_text(SENTENCES, size=300, overlap=80)
    for previous, following in itertools.pairwise(chunks):
        assert previous.text.endswith(".")
        assert following.text.startswith("Sentence number")
        assert following.start < previous.end  # the last sentence is repeated
        assert previous.end - following.start <= 80


def test_every_word_is_in_some_chunk() -> None:
    chunks = chunk_text(SENTENCES, size=250, overlap=50)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    words = [i for i, ch in enumerate(SENTENCES) if not ch.isspace()]
    assert all(i in covered for i in words)


def test_a_long_sentence_is_cut_at_words_and_an_endless_word_anywhere() -> None:
    words = "lorem " * 200
    chunks = chunk_text(words, size=100, overlap=10)
    assert all(c.text.split() == ["lorem"] * len(c.text.split()) for c in chunks)
    blob = "x" * 1000
    assert [len(c.text) for c in chunk_text(blob, size=300, overlap=0)] == [300, 300, 300, 100]


def test_chunks_do_not_cross_pages_and_know_theirs() -> None:
    pages = ["First page about onboarding. " * 3, "Second page about pricing. " * 20, "Third."]
    text = "".join(pages)
    starts = [0, len(pages[0]), len(pages[0]) + len(pages[1])]
    chunks = chunk_text(text, page_starts=starts, size=200, overlap=30)
    assert chunks[0].page == 1
    assert chunks[-1].page == 3
    for chunk in chunks:
        assert page_at(starts, chunk.start) == chunk.page
        assert page_at(starts, chunk.end - 1) == chunk.page
    assert {c.page for c in chunks} == {1, 2, 3}


def test_blank_text_gives_no_chunks_and_bad_sizes_are_refused() -> None:
    assert chunk_text("  \n\n  ") == []
    with pytest.raises(ValueError):
        chunk_text("text", size=100, overlap=100)
