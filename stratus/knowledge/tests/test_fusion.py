"""``selectors.fuse``: search ``both``'s weighted reciprocal rank fusion, and a name typed first."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.accounts.models import Organization
from stratus.crm.models import Activity, Company
from stratus.knowledge import selectors
from stratus.knowledge.selectors import Result


def _result(
    record_type: str, record_id: int, source: str, *, name_match: bool = False, every_word: bool = False
) -> Result:
    return Result(
        record_type=record_type,
        record_id=record_id,
        title=f"{record_type} {record_id}",
        url=f"/{record_type}/{record_id}",
        text="",
        start=0,
        page=None,
        score=0.0,
        sources=[source],
        name_match=name_match,
        every_word=every_word,
    )


def _meaning(*ids: int) -> list[Result]:
    return [_result("activity", pk, "meaning") for pk in ids]


def _words(*ids: int) -> list[Result]:
    return [_result("activity", pk, "words") for pk in ids]


def _records(results: list[Result]) -> list[tuple[str, int]]:
    return [(r.record_type, r.record_id) for r in results]


def test_equal_weights_are_reciprocal_rank_fusion_and_a_record_both_find_comes_first() -> None:
    fused = selectors.fuse(
        [_meaning(1, 2, 3), _words(4, 3)], 10, k=60, weights={"meaning": 1.0, "words": 1.0}
    )
    # 3: 1/63 + 1/62; then 1 and 4 tie at 1/61 (the meaning ranking's first, as given); 2: 1/62.
    assert _records(fused) == [("activity", 3), ("activity", 1), ("activity", 4), ("activity", 2)]
    assert fused[0].score == round(1 / 63 + 1 / 62, 6)
    assert fused[0].sources == ["meaning", "words"]
    assert fused[2].sources == ["words"]


def test_the_meaning_weight_puts_the_meaning_rankings_first_results_above_words_only_ones() -> None:
    meaning, words = _meaning(1, 2, 3, 4), _words(5, 6, 3)
    plain = selectors.fuse([meaning, words], 10, k=10, weights={"meaning": 1.0, "words": 1.0})
    assert _records(plain)[:4] == [("activity", 3), ("activity", 1), ("activity", 5), ("activity", 2)]

    meaning, words = _meaning(1, 2, 3, 4), _words(5, 6, 3)
    weighted = selectors.fuse([meaning, words], 10, k=10, weights={"meaning": 3.0, "words": 1.0})
    # 3/11 (1), 3/12 (2), 3/13 + 1/13 (3), 3/14 (4) all beat the words-only 1/11 (5) and 1/12 (6).
    assert _records(weighted) == [("activity", pk) for pk in (3, 1, 2, 4, 5, 6)]
    assert weighted[0].score == round(3 / 13 + 1 / 13, 6)
    assert weighted[1].score == round(3 / 11, 6)


def test_one_vote_per_record_per_ranking_and_the_limit() -> None:
    fused = selectors.fuse([_meaning(1, 1, 2), _words(2, 2)], 1, k=60, weights={"meaning": 1.0, "words": 1.0})
    assert _records(fused) == [("activity", 2)]
    assert fused[0].score == round(1 / 63 + 1 / 61, 6)  # 1's second passage took no rank of its own


def test_the_defaults_are_the_settings(settings: Any) -> None:
    settings.SEARCH_FUSION_K = 10
    settings.SEARCH_MEANING_WEIGHT = 3.0
    by_default = selectors.fuse([_meaning(1, 2, 3, 4), _words(5, 6, 3)], 10)
    explicit = selectors.fuse(
        [_meaning(1, 2, 3, 4), _words(5, 6, 3)], 10, k=10, weights={"meaning": 3.0, "words": 1.0}
    )
    assert [(r.record_id, r.score) for r in by_default] == [(r.record_id, r.score) for r in explicit]
    settings.SEARCH_MEANING_WEIGHT = 1.0
    assert _records(selectors.fuse([_meaning(1, 2, 3, 4), _words(5, 6, 3)], 10))[2] == ("activity", 5)


def test_the_app_weighs_meaning_above_words() -> None:
    """With the adopted settings a passage the meaning ranking puts second outranks one that only
    the words ranking finds, even first (the labelled set's questions: the words ranking finds the
    account's name, in every note of the account)."""
    fused = selectors.fuse([_meaning(1, 2, 3), _words(4, 5)], 10)
    assert _records(fused)[:2] == [("activity", 1), ("activity", 2)]
    assert _records(fused).index(("activity", 4)) > 1


def test_a_name_typed_is_first_even_when_only_the_words_ranking_finds_it() -> None:
    meaning = _meaning(*range(1, 51))  # fifty passages close in meaning to the name, none of them it
    company = _result("company", 7, "words", name_match=True)
    fused = selectors.fuse(
        [meaning, [company, *_words(60, 61)]], 10, k=10, weights={"meaning": 8.0, "words": 1.0}
    )
    assert _records(fused)[0] == ("company", 7)
    assert fused[0].score == fused[1].score == round(8 / 11, 6)  # the best score of the list
    assert len(fused) == 10

    # The same record, not a name typed (the query is a question that merely finds it): the sum
    # alone, and at this weight it is not in the first ten.
    company = _result("company", 7, "words")
    fused = selectors.fuse(
        [_meaning(*range(1, 51)), [company]], 10, k=10, weights={"meaning": 8.0, "words": 1.0}
    )
    assert ("company", 7) not in _records(fused)


def test_the_first_name_typed_of_the_words_ranking_is_the_one_put_first() -> None:
    contact = _result("contact", 3, "words")  # found by its e-mail, say: not every word of its name
    first = _result("company", 7, "words", name_match=True)
    second = _result("company", 8, "words", name_match=True)
    fused = selectors.fuse(
        [_meaning(1, 2), [contact, first, second]], 10, k=10, weights={"meaning": 3.0, "words": 1.0}
    )
    assert _records(fused)[0] == ("company", 7)
    assert _records(fused)[1:3] == [("activity", 1), ("activity", 2)]
    # A name match from the meaning ranking counts for nothing: only the words ranking says so.
    odd = _result("company", 9, "meaning", name_match=True)
    fused = selectors.fuse([[*_meaning(1), odd], _words(5)], 10, k=10, weights={"meaning": 3.0, "words": 1.0})
    assert _records(fused)[0] == ("activity", 1)


def test_a_passage_with_every_word_typed_votes_as_much_as_meaning() -> None:
    meaning = _meaning(*range(1, 51))
    literal = _result("activity", 70, "words", every_word=True)  # "INV-2034" is in this note
    fused = selectors.fuse(
        [meaning, [literal, *_words(71)]], 10, k=60, weights={"meaning": 4.0, "words": 1.0}
    )
    # 4/61 ties the meaning ranking's first (given first, it stays behind it); 71 is out.
    assert _records(fused)[:2] == [("activity", 1), ("activity", 70)]
    assert fused[1].score == round(4 / 61, 6)
    assert ("activity", 71) not in _records(fused)
    # Without every word it is one words vote among meaning's fifty: out of the first ten.
    plain = _result("activity", 70, "words")
    fused = selectors.fuse(
        [_meaning(*range(1, 51)), [plain]], 10, k=60, weights={"meaning": 4.0, "words": 1.0}
    )
    assert ("activity", 70) not in _records(fused)


@pytest.mark.django_db
def test_by_words_says_when_the_query_is_a_name(organization: Organization) -> None:
    company = Company.objects.create(organization=organization, name="Acme Logistics")
    Activity.objects.create(
        organization=organization,
        company=company,
        kind="note",
        subject="Acme Logistics",
        body="Renewal call.",
    )
    filters = selectors.Filters()

    found = selectors.by_words(org=organization, query="acme LOGISTICS", filters=filters, limit=10)
    named = [(r.record_type, r.record_id) for r in found if r.name_match]
    # The company, not its note: a note's subject is no name (and questions name accounts too).
    assert named == [("company", company.pk)]

    found = selectors.by_words(org=organization, query="Acme", filters=filters, limit=10)
    assert [(r.record_type, r.name_match) for r in found if r.record_type == "company"] == [("company", True)]

    # A question that names the account finds its note (any word, on PostgreSQL) but is no name.
    found = selectors.by_words(
        org=organization, query="renewal terms for Acme Logistics", filters=filters, limit=10
    )
    assert found
    assert not any(r.name_match for r in found)
    assert not any(r.every_word for r in found)  # "terms" and "for" are not in the note

    # Words copied from the note: every one of them is in it.
    found = selectors.by_words(org=organization, query="renewal CALL", filters=filters, limit=10)
    assert [(r.record_type, r.every_word) for r in found] == [("activity", True)]
