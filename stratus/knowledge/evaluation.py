"""The search engine on a labelled set: ``ranker(passages, mode)`` for bench/search_eval/evaluate.py.

It measures the app, not a model of it: the passages become notes (activities) of companies in
a throwaway organization of the configured database, the database triggers queue them, the
indexer's own steps (``services.passages_of`` and ``services.write``, for this organization's
entries only) chunk, embed and write them to a Qdrant Edge shard in a temporary directory,
and a question is answered by ``selectors.search``, the function behind
``GET /api/v1/search``, in the mode asked (``words``, ``meaning`` or ``both``). A result is
mapped back to the passage whose note it is; a result that is no passage (a company found by
its name) keeps its rank, as it does on the user's screen, and counts as not relevant.

``close()`` (an attribute of the returned function) deletes the organization and the shard.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.test.utils import override_settings

from stratus.accounts.models import Organization
from stratus.crm.models import Activity, ActivityKind, Company
from stratus.knowledge import selectors, services
from stratus.knowledge.models import OutboxEntry
from stratus.knowledge.store import store

K = 10
BATCH = 256


class Ranker:
    def __init__(self, passages: Sequence[dict[str, Any]], mode: str) -> None:
        if mode not in ("words", "meaning", "both"):
            raise ValueError(f"mode is {mode!r}; expected words, meaning or both")
        self.mode = mode
        self._directory = Path(tempfile.mkdtemp(prefix="stratus-search-eval-"))
        self._settings = override_settings(
            QDRANT_URL="", QDRANT_PATH=self._directory, SEARCH_COLLECTION="search_eval"
        )
        self._settings.enable()
        suffix = uuid.uuid4().hex[:12]
        self.org = Organization.objects.create(name="Search evaluation", slug=f"search-eval-{suffix}")
        self._passage_of: dict[tuple[str, int], str] = {}
        try:
            self._load(passages)
            self._index()
        except BaseException:
            self.close()
            raise

    def _load(self, passages: Sequence[dict[str, Any]]) -> None:
        with transaction.atomic():
            names = sorted({str(p["record"]["name"]) for p in passages})
            companies = {
                name: Company.objects.create(organization=self.org, name=name[:200]) for name in names
            }
            notes = Activity.objects.bulk_create(
                [
                    # Indexed as "subject\n\nbody": the record's name, then the passage's text.
                    Activity(
                        organization=self.org,
                        kind=ActivityKind.NOTE,
                        company=companies[str(p["record"]["name"])],
                        subject=str(p["record"]["name"])[:200],
                        body=_body(p),
                    )
                    for p in passages
                ]
            )
            for passage, note in zip(passages, notes, strict=True):
                self._passage_of[("activity", note.pk)] = str(passage["id"])

    def _index(self) -> None:
        """The indexer's steps (``services.index_pending``) for this organization's outbox
        entries only, so that another process's evaluation or worker on the same database keeps
        its own."""
        vectors = store()
        collection = services.current_collection(vectors)
        entries = OutboxEntry.objects.filter(organization_id=self.org.pk).order_by("pk")
        keys = list(dict.fromkeys(entries.values_list("organization_id", "record_type", "record_id")))
        for offset in range(0, len(keys), BATCH):
            passages, gone = services.passages_of(keys[offset : offset + BATCH])
            services.write(vectors, collection, passages, gone)
        entries.delete()

    def __call__(self, query: str) -> list[str]:
        results = selectors.search(
            org=self.org, query=query, mode=self.mode, filters=selectors.Filters(), limit=K
        )
        return self.identifiers(results)

    def rankings(self, query: str) -> tuple[list[selectors.Result], list[selectors.Result]]:
        """The two rankings ``selectors.search`` fuses in ``both`` mode (meaning, words), at the
        depth it asks them for: for a grid of fusion parameters (bench/search_eval/tune.py)."""
        depth = max(K, selectors.FUSION_DEPTH)
        filters = selectors.Filters()
        return (
            selectors.by_meaning(org=self.org, query=query, filters=filters, limit=depth),
            selectors.by_words(org=self.org, query=query, filters=filters, limit=depth),
        )

    def identifiers(self, results: Sequence[selectors.Result]) -> list[str]:
        """The passage ids of ``results`` in order (``activity:<id>`` style for a non-passage)."""
        ranked: list[str] = []
        for result in results:
            key = (result.record_type, result.record_id)
            identifier = self._passage_of.get(key, f"{key[0]}:{key[1]}")
            if identifier not in ranked:
                ranked.append(identifier)
        return ranked

    def close(self) -> None:
        try:
            OutboxEntry.objects.filter(organization_id=self.org.pk).delete()
            Activity.objects.filter(organization=self.org).delete()
            Company.objects.filter(organization=self.org).delete()
            OutboxEntry.objects.filter(organization_id=self.org.pk).delete()
            self.org.delete()
        finally:
            self._settings.disable()
            shutil.rmtree(self._directory, ignore_errors=True)


def _body(passage: dict[str, Any]) -> str:
    """The passage's text without the "Name: " the evaluation prefixes (the subject holds it)."""
    text = str(passage["text"])
    prefix = f"{passage['record']['name']}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def ranker(passages: Sequence[dict[str, Any]], mode: str) -> Ranker:
    """Index ``passages`` (``id``, ``text``, ``record`` with ``name``) and return ``rank(query)``."""
    return Ranker(passages, mode)
