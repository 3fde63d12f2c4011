"""Indexing: drain the outbox into Qdrant, rebuild a collection, record a document's text.

The indexer takes the oldest outbox entries, reads their records as they are now, chunks and
embeds their text and writes the points (same ids for the same chunk: idempotent), then
deletes the chunks past the record's new length, or every point of a record that is gone,
and only then deletes the entries it read. A worker killed anywhere in between leaves the
entries in place and the next run writes the same points again: nothing is lost, and no
stale chunk survives. One indexer runs at a time (a PostgreSQL advisory lock, a file lock on
the embedded default), so the order of writes to Qdrant is the order of the records' states.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from stratus.accounts.models import Organization
from stratus.documents.models import Document
from stratus.knowledge import sources
from stratus.knowledge.chunking import chunk
from stratus.knowledge.embeddings import embedder
from stratus.knowledge.models import DocumentText, OutboxEntry, RecordType
from stratus.knowledge.store import Passage, VectorStore, new_collection_name, store
from stratus.platform.locks import advisory_key

logger = logging.getLogger(__name__)

EMBED_BATCH = 32
Key = tuple[int, str, int]  # (organization id, record type, record id)


class IndexerBusy(Exception):
    """Another process holds the indexer's lock."""


@contextlib.contextmanager
def indexer_lock(*, wait: bool = True) -> Iterator[None]:
    """The one-indexer-at-a-time lock; without ``wait``, IndexerBusy when it is taken."""
    if connection.vendor == "postgresql":
        key = advisory_key("knowledge-indexer")
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cursor.fetchone()[0]:
                    raise IndexerBusy
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    path = Path(settings.QDRANT_PATH)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".indexer.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as busy:
            raise IndexerBusy from busy
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_collection(vectors: VectorStore | None = None) -> str:
    """The alias's collection, created on first use."""
    vectors = vectors or store()
    current, _ = vectors.collections()
    if current is None:
        current = new_collection_name()
        vectors.create(current, embedder().dimensions)
        vectors.switch_alias(current)
    return current


def passages_of(keys: Sequence[Key]) -> tuple[dict[Key, list[Passage]], set[Key]]:
    """The passages (embedded) of the records that exist, and the keys of those that do not."""
    by_type: dict[tuple[int, str], list[int]] = defaultdict(list)
    for organization_id, record_type, record_id in keys:
        by_type[(organization_id, record_type)].append(record_id)
    found: dict[Key, sources.Source] = {}
    for (organization_id, record_type), ids in by_type.items():
        for record_id, source in sources.load(organization_id, record_type, ids).items():
            found[(organization_id, record_type, record_id)] = source
    gone = {key for key in keys if key not in found}
    pending: list[tuple[Key, int, int, int | None, str]] = []
    for key, source in found.items():
        number = 0
        for page, text in source.pieces:
            for piece in chunk(text, size=settings.SEARCH_CHUNK_CHARS, overlap=settings.SEARCH_CHUNK_OVERLAP):
                pending.append((key, number, piece.start, page, piece.text))
                number += 1
    vectors: list[list[float]] = []
    model = embedder()
    for offset in range(0, len(pending), EMBED_BATCH):
        vectors.extend(model.embed([item[4] for item in pending[offset : offset + EMBED_BATCH]]))
    passages: dict[Key, list[Passage]] = {key: [] for key in found}
    for (key, number, start, page, text), vector in zip(pending, vectors, strict=True):
        source = found[key]
        passages[key].append(
            Passage(
                organization_id=key[0],
                record_type=key[1],
                record_id=key[2],
                chunk_no=number,
                start=start,
                text=text,
                title=source.title[:300],
                owner_id=source.owner_id,
                date=source.date,
                page=page,
                url=source.url,
                vector=vector,
            )
        )
    return passages, gone


def write(vectors: VectorStore, collection: str, passages: dict[Key, list[Passage]], gone: set[Key]) -> None:
    every = [p for record in passages.values() for p in record]
    vectors.upsert(collection, every)
    for key, record in passages.items():
        # After the upsert: a kill in between leaves extra chunks that the retry deletes.
        vectors.delete_record(collection, key[0], key[1], key[2], from_chunk=len(record))
    for key in gone:
        vectors.delete_record(collection, key[0], key[1], key[2], from_chunk=0)


def index_pending(
    *, limit: int | None = None, wait: bool = True, before_delete: Callable[[], None] | None = None
) -> int:
    """Index the records of the oldest outbox entries (at most ``limit`` records); returns how
    many records were indexed (0 when the outbox is empty). Without ``wait``, raises
    IndexerBusy when another indexer runs (it drains what this one would have)."""
    limit = limit or settings.SEARCH_INDEX_BATCH
    vectors = store()
    with indexer_lock(wait=wait):
        entries = list(
            OutboxEntry.objects.order_by("pk").values_list(
                "pk", "organization_id", "record_type", "record_id"
            )[: limit * 4]
        )
        keys: list[Key] = []
        taken: list[int] = []
        for pk, organization_id, record_type, record_id in entries:
            key = (organization_id, record_type, record_id)
            if key not in keys:
                if len(keys) == limit:
                    continue
                keys.append(key)
            taken.append(pk)
        if not keys:
            return 0
        passages, gone = passages_of(keys)
        current = current_collection(vectors)
        _, building = vectors.collections()
        for collection in {current, building} - {None}:
            assert collection is not None
            write(vectors, collection, passages, gone)
        if before_delete is not None:
            before_delete()
        OutboxEntry.objects.filter(pk__in=taken).delete()
    return len(keys)


def backlog() -> int:
    """Outbox entries waiting (a record changed several times counts several times)."""
    return OutboxEntry.objects.count()


def reindex(*, organization_id: int | None = None, progress: Callable[[int], None] | None = None) -> str:
    """Rebuild into a new collection beside the current one, then move the alias to it.

    While it fills, the indexer writes every change to both; each batch of the fill takes the
    indexer's lock, so a record is never written older than the indexer already wrote it. With
    ``organization_id`` only that organization is rebuilt, into the current collection (its
    points are deleted first, then written again); returns the collection written.
    """
    vectors = store()
    organizations = (
        [organization_id]
        if organization_id is not None
        else list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    )
    if organization_id is not None:
        target = current_collection(vectors)
        with indexer_lock():
            vectors.delete_organization(target, organization_id)
    else:
        target = new_collection_name()
        vectors.create(target, embedder().dimensions)
        vectors.set_building(target)
    for org_id in organizations:
        for record_type in RecordType.values:
            batch: list[int] = []
            for record_id in sources.record_ids(org_id, record_type):
                batch.append(record_id)
                if len(batch) == settings.SEARCH_INDEX_BATCH:
                    _fill(vectors, target, org_id, record_type, batch, progress)
                    batch = []
            if batch:
                _fill(vectors, target, org_id, record_type, batch, progress)
    if organization_id is None:
        # Searches move to an indexed collection (on Qdrant Edge the HNSW index is built only
        # when asked; meanwhile the indexer's writes to it wait, those to the current one too).
        vectors.optimize(target)
        previous = vectors.switch_alias(target)
        if previous is not None and previous != target:
            vectors.drop(previous)
    return target


def _fill(
    vectors: VectorStore,
    collection: str,
    organization_id: int,
    record_type: str,
    ids: list[int],
    progress: Callable[[int], None] | None,
) -> None:
    with indexer_lock():
        passages, gone = passages_of([(organization_id, record_type, record_id) for record_id in ids])
        write(vectors, collection, passages, gone)
    if progress is not None:
        progress(len(ids))


@transaction.atomic
def document_text_changed(*, org: Organization, document: Document, pages: Sequence[str] | None) -> None:
    """Record the text extracted from ``document``, one string per page (one string in all for
    formats without pages); ``None`` (or no text) when it has none or is not searchable: its
    passages are then removed, the name alone stays searchable. The outbox entry is written by
    the trigger on this table, in the caller's transaction."""
    assert document.organization_id == org.pk, "the document belongs to another organization"
    kept = [page for page in (pages or []) if isinstance(page, str)]
    if not any(page.strip() for page in kept):
        DocumentText.objects.filter(organization=org, document=document).delete()
        return
    DocumentText.objects.update_or_create(organization=org, document=document, defaults={"pages": kept})
