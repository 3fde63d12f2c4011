"""Search: by meaning (Qdrant), by words (the CRM's full-text search) or both, fused by rank.

``both`` merges the two rankings with weighted reciprocal rank fusion (``fuse``): a record's
score is the sum, over the rankings that find it, of weight / (k + rank). The vector scores
(cosine) and the word matches have no common scale, so a fusion by rank is the one that needs
no calibration per model or per corpus, and a passage both rankings find comes first. The
ranking by meaning weighs ``SEARCH_MEANING_WEIGHT`` times the ranking by words, with
k = ``SEARCH_FUSION_K``: values chosen on one half of the labelled evaluation set and checked
on the other (bench/results/2026-12-06-search-eval.md, docs/search.md). One exception to the
sum: a name typed as such (every word of the query is a word of the name of a contact, company
or deal the words ranking finds) puts that record first, since a search by meaning knows
names badly and a person who types one is looking for that record.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q

from stratus.accounts.models import Organization
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Activity
from stratus.knowledge.embeddings import embedder
from stratus.knowledge.store import Hit, Query, store

FUSION_DEPTH = 50  # each ranking's depth before ``both`` fuses them (at least the limit)


@dataclass(frozen=True)
class Filters:
    record_types: Sequence[str] = ()
    owner_id: int | None = None
    date_from: datetime.datetime | None = None
    date_to: datetime.datetime | None = None


@dataclass
class Result:
    record_type: str
    record_id: int
    title: str
    url: str
    text: str
    start: int  # offset of ``text`` in the record's text (in its page for a document)
    page: int | None
    score: float
    sources: list[str] = field(default_factory=list)  # "meaning", "words"
    # By words: every word of the query is a word of this contact's, company's or deal's name
    # (a contact's: its name and e-mail), i.e. the query is that name typed, not a question.
    name_match: bool = False
    # By words: every word of the query is a word of this passage (an invoice number, a phrase
    # copied from a note): its words vote weighs as much as a meaning vote.
    every_word: bool = False

    @property
    def key(self) -> tuple[str, int, int, int | None]:
        return (self.record_type, self.record_id, self.start, self.page)


def by_meaning(
    *, org: Organization, query: str, filters: Filters, limit: int, exclude: tuple[str, int] | None = None
) -> list[Result]:
    vectors = store()
    collection, _ = vectors.collections()
    if collection is None:
        return []
    vector = embedder().embed([query])[0]
    hits = vectors.search(
        collection,
        Query(
            organization_id=org.pk,
            vector=vector,
            limit=limit,
            record_types=filters.record_types,
            owner_id=filters.owner_id,
            date_from=filters.date_from,
            date_to=filters.date_to,
            exclude_record=exclude,
        ),
    )
    return _results(org, hits)


def _results(org: Organization, hits: Sequence[Hit]) -> list[Result]:
    results = []
    for hit in hits:
        p: dict[str, Any] = hit.payload
        if p.get("organization") != str(org.pk):  # the filter already ensures it; never trust one layer
            continue
        results.append(
            Result(
                record_type=p["record_type"],
                record_id=int(p["record_id"]),
                title=p.get("title", ""),
                url=p.get("url", ""),
                text=p.get("text", ""),
                start=int(p.get("start", 0)),
                page=p.get("page"),
                score=hit.score,
                sources=["meaning"],
            )
        )
    return results


RELATED_NOTES = 5  # a contact's, company's or deal's latest activities that stand for it beside its own text


def related(*, org: Organization, record_type: str, record_id: int, limit: int) -> list[Result]:
    """The passages of other records closest in meaning to this one, best first, one per record.

    No text is embedded again: the query is the mean of the vectors already stored for the
    record's chunks and, for a contact, company or deal, for its latest notes' (a company's own
    text is often just its name). Every point of the record is left out, and so is every passage
    that belongs to its page (its notes and documents: the page shows them already). Only the
    organization's points are searched. A record with no stored vector (not indexed yet) has none.
    """
    from stratus.web.shell.destinations import record_path

    vectors = store()
    collection, _ = vectors.collections()
    if collection is None:
        return []
    records: list[tuple[str, int]] = [(record_type, record_id)]
    own_page = None
    if record_type in ("contact", "company", "deal"):
        own_page = record_path(record_type, record_id)
        notes = Activity.objects.filter(organization=org, **{record_type: record_id})
        ids = notes.order_by("-created_at", "-pk").values_list("pk", flat=True)[:RELATED_NOTES]
        records += [("activity", pk) for pk in ids]
    stored = vectors.vectors_of(collection, org.pk, records)
    if not stored:
        return []
    mean = np.mean(np.array(stored, dtype=np.float32), axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return []
    hits = vectors.search(
        collection,
        Query(
            organization_id=org.pk,
            vector=(mean / norm).tolist(),
            limit=limit * 4 + len(stored),  # room for the passages of its own page, left out below
            exclude_record=(record_type, record_id),
        ),
    )
    found: list[Result] = []
    seen: set[tuple[str, int]] = set()
    for result in _results(org, hits):
        key = (result.record_type, result.record_id)
        if key in seen or (own_page is not None and result.url == own_page):
            continue
        seen.add(key)
        found.append(result)
    return found[:limit]


def _position(text: str, query: str) -> int:
    lowered = text.casefold()
    positions = [lowered.find(word) for word in query.casefold().split() if word in lowered]
    return min(positions) if positions else 0


def _passes(filters: Filters, record_type: str, owner_id: int | None, date: datetime.datetime) -> bool:
    if filters.record_types and record_type not in filters.record_types:
        return False
    if filters.owner_id is not None and owner_id != filters.owner_id:
        return False
    if filters.date_from and date < filters.date_from:
        return False
    return not (filters.date_to and date >= filters.date_to)


def _owners(org: Organization, found: Sequence[tuple[Any, ...]]) -> dict[tuple[str, int], int | None]:
    """The owners of the contacts, companies and deals found (the palette's selectors load none)."""
    from stratus.crm.models import Company, Contact, Deal

    owners: dict[tuple[str, int], int | None] = {}
    for record_type, model in (("contact", Contact), ("company", Company), ("deal", Deal)):
        ids = [item[1] for item in found if item[0] == record_type]
        if ids:
            rows = model.objects.filter(organization=org, pk__in=ids).values_list("pk", "owner_id")
            owners.update({(record_type, pk): owner for pk, owner in rows})
    return owners


# Any of the query's words (its lexemes: stemmed, stop words left out) in an activity's subject
# or body; the expression is that of the GIN index of the migration 0002_activity_words_index.
ACTIVITY_WORDS_SQL = (
    "SELECT a.id FROM crm_activity a, "
    "CAST(array_to_string(ARRAY(SELECT quote_literal(lexeme) FROM "
    "unnest(tsvector_to_array(to_tsvector('english'::regconfig, %s))) AS lexeme), ' | ') AS tsquery) AS q "
    "WHERE a.organization_id = %s AND to_tsvector('english'::regconfig, subject || ' ' || body) @@ q "
    "ORDER BY ts_rank(to_tsvector('english'::regconfig, subject || ' ' || body), q) DESC, "
    "a.created_at DESC, a.id DESC LIMIT %s"
)


def _matching_activities(org: Organization, query: str, limit: int) -> Any:
    """The activities matching ``query`` by words, best first.

    On PostgreSQL: full text (``english``: stemmed, stop words and punctuation ignored) on subject
    and body, any of the query's words, ranked by ``ts_rank`` (an activity with more of the words,
    or with them more often, first; then the newest), over the GIN index of the knowledge app's
    migration 0002. A question as a person types it ("who complained about onboarding speed?")
    rarely has every word in the note that answers it. Elsewhere (SQLite): every word in subject
    or body, newest first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(ACTIVITY_WORDS_SQL, [query, org.pk, limit])
            ids = [row[0] for row in cursor.fetchall()]
        found = {a.pk: a for a in Activity.objects.filter(organization=org, pk__in=ids)}
        return [found[pk] for pk in ids if pk in found]
    words = query.split()[:10]
    if not words:
        return None
    condition = Q()
    for word in words:
        condition &= Q(subject__icontains=word) | Q(body__icontains=word)
    return Activity.objects.filter(condition, organization=org).order_by("-created_at", "-pk")[:limit]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _names(query: str, name: str) -> bool:
    """Whether every word of ``query`` is a word of ``name`` (case and punctuation ignored)."""
    typed = _words(query)
    return bool(typed) and typed <= _words(name)


def by_words(*, org: Organization, query: str, filters: Filters, limit: int) -> list[Result]:
    """The records the CRM's full-text search finds (the palette's: contacts, companies, deals by
    name and email), then the activities that match by words (``_matching_activities``); one
    passage each: the matched field, with the position of the first word found."""
    from stratus.web.shell.destinations import record_path

    found: list[tuple[str, int, str, str, str, int | None, datetime.datetime]] = []
    for c in crm_selectors.contact_search(org=org, query=query, limit=limit):
        text = f"{c.first_name} {c.last_name}".strip() or c.email
        found.append(
            (
                "contact",
                c.pk,
                text,
                f"{text} {c.email}".strip(),
                record_path("contact", c.pk),
                None,
                c.created_at,
            )
        )
    for co in crm_selectors.company_search(org=org, query=query, limit=limit):
        found.append(("company", co.pk, co.name, co.name, record_path("company", co.pk), None, co.created_at))
    for d in crm_selectors.deal_search(org=org, query=query, limit=limit):
        found.append(("deal", d.pk, d.title, d.title, record_path("deal", d.pk), None, d.created_at))
    activities = _matching_activities(org, query, limit)
    if activities is not None:
        for a in activities:
            target = (
                ("contact", a.contact_id)
                if a.contact_id
                else ("company", a.company_id)
                if a.company_id
                else ("deal", a.deal_id)
            )
            found.append(
                (
                    "activity",
                    a.pk,
                    a.subject,
                    f"{a.subject}\n\n{a.body}".strip(),
                    record_path(target[0], int(target[1] or 0)),
                    a.assignee_id,
                    a.created_at,
                )
            )
    owners = _owners(org, found) if filters.owner_id is not None else {}
    results = []
    for record_type, pk, title, text, url, owner_id, date in found:
        if record_type != "activity":
            owner_id = owners.get((record_type, pk))
        if not _passes(filters, record_type, owner_id, date):
            continue
        start = _position(text, query)
        snippet_start = max(0, start - 100)
        every_word = _names(query, text)
        results.append(
            Result(
                record_type,
                pk,
                title,
                url,
                text[snippet_start : snippet_start + 400],
                snippet_start,
                None,
                0.0,
                ["words"],
                name_match=record_type != "activity" and every_word,
                every_word=every_word,
            )
        )
    for rank, result in enumerate(results, start=1):
        result.score = 1.0 / rank
    return results[:limit]


def fuse(
    rankings: Sequence[Sequence[Result]],
    limit: int,
    *,
    k: float | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[Result]:
    """Weighted reciprocal rank fusion; a record found by both rankings is merged into its best
    passage.

    A record's score is the sum, over the rankings that find it, of weight / (k + rank), one vote
    per record per ranking. A ranking's weight is that of the source its results name
    (``Result.sources``: ``meaning`` or ``words``), by default ``SEARCH_MEANING_WEIGHT`` for
    meaning and 1 for words; k is ``SEARCH_FUSION_K`` by default. A name typed as such goes
    first: the first result of the words ranking that is a contact, company or deal whose name
    has every word of the query (``Result.name_match``), with the best score of the list. A
    words result whose passage has every word of the query (``Result.every_word``: what was
    typed is literally there, as an invoice number or a phrase copied from a note) votes with
    the meaning ranking's weight, so an exact find is not outvoted by passages merely close in
    meaning; a question's words are rarely all in one passage, so questions keep the weights."""
    k = float(settings.SEARCH_FUSION_K if k is None else k)
    if weights is None:
        weights = {"meaning": float(settings.SEARCH_MEANING_WEIGHT), "words": 1.0}
    merged: dict[tuple[str, int], Result] = {}
    scores: dict[tuple[str, int], float] = {}
    named: tuple[str, int] | None = None
    for ranking in rankings:
        seen: set[tuple[str, int]] = set()
        for rank, result in enumerate(ranking, start=1):
            record = (result.record_type, result.record_id)
            if record in seen:
                continue  # one vote per record per ranking
            seen.add(record)
            weight = max((weights.get(source, 1.0) for source in result.sources), default=1.0)
            if result.every_word and "words" in result.sources:
                weight = max(weight, *weights.values())
            scores[record] = scores.get(record, 0.0) + weight / (k + rank)
            if named is None and result.name_match and "words" in result.sources:
                named = record
            if record not in merged:
                merged[record] = result
            else:
                merged[record].sources = sorted({*merged[record].sources, *result.sources})
    ordered = sorted(merged, key=lambda record: -scores[record])
    if named is not None:
        scores[named] = scores[ordered[0]]
        ordered = [named, *(record for record in ordered if record != named)]
    fused = []
    for record in ordered[:limit]:
        result = merged[record]
        result.score = round(scores[record], 6)
        fused.append(result)
    return fused


def search(*, org: Organization, query: str, mode: str, filters: Filters, limit: int) -> list[Result]:
    if mode == "meaning":
        return by_meaning(org=org, query=query, filters=filters, limit=limit)
    if mode == "words":
        return by_words(org=org, query=query, filters=filters, limit=limit)
    depth = max(limit, FUSION_DEPTH)
    return fuse(
        [
            by_meaning(org=org, query=query, filters=filters, limit=depth),
            by_words(org=org, query=query, filters=filters, limit=depth),
        ],
        limit,
    )
