"""Search: by meaning (Qdrant), by words (the CRM's full-text search) or both, fused by rank.

``both`` merges the two rankings with reciprocal rank fusion (score = sum of 1 / (60 + rank)):
the vector scores (cosine) and the word matches have no common scale, so a fusion by rank is
the one that needs no calibration per model or per corpus, and a passage both rankings find
comes first. The constant 60 is the one of Cormack, Clarke and Buettcher (2009).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from stratus.accounts.models import Organization
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Activity
from stratus.knowledge.embeddings import embedder
from stratus.knowledge.store import Query, store

RRF_K = 60


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


def by_words(*, org: Organization, query: str, filters: Filters, limit: int) -> list[Result]:
    """The records the CRM's full-text search finds (the palette's: contacts, companies, deals by
    name and email) and the activities whose subject or body hold every word; ranked in that
    order, one passage each: the matched field, with the position of the first word found."""
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
    words = query.split()[:10]
    if words:
        condition = Q()
        for word in words:
            condition &= Q(subject__icontains=word) | Q(body__icontains=word)
        activities = Activity.objects.filter(condition, organization=org).order_by("-created_at", "-pk")[
            :limit
        ]
        for a in activities.only(
            "id", "subject", "body", "created_at", "assignee_id", "contact_id", "company_id", "deal_id"
        ):
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
            )
        )
    for rank, result in enumerate(results, start=1):
        result.score = 1.0 / rank
    return results[:limit]


def fuse(rankings: Sequence[Sequence[Result]], limit: int) -> list[Result]:
    """Reciprocal rank fusion; a record found by both rankings is merged into its best passage."""
    merged: dict[tuple[str, int], Result] = {}
    scores: dict[tuple[str, int], float] = {}
    for ranking in rankings:
        seen: set[tuple[str, int]] = set()
        for rank, result in enumerate(ranking, start=1):
            record = (result.record_type, result.record_id)
            if record in seen:
                continue  # one vote per record per ranking
            seen.add(record)
            scores[record] = scores.get(record, 0.0) + 1.0 / (RRF_K + rank)
            if record not in merged:
                merged[record] = result
            else:
                merged[record].sources = sorted({*merged[record].sources, *result.sources})
    ordered = sorted(merged, key=lambda record: -scores[record])[:limit]
    fused = []
    for record in ordered:
        result = merged[record]
        result.score = round(scores[record], 6)
        fused.append(result)
    return fused


def search(*, org: Organization, query: str, mode: str, filters: Filters, limit: int) -> list[Result]:
    if mode == "meaning":
        return by_meaning(org=org, query=query, filters=filters, limit=limit)
    if mode == "words":
        return by_words(org=org, query=query, filters=filters, limit=limit)
    depth = max(limit, 50)
    return fuse(
        [
            by_meaning(org=org, query=query, filters=filters, limit=depth),
            by_words(org=org, query=query, filters=filters, limit=depth),
        ],
        limit,
    )
