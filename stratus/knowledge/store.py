"""The vector store: Qdrant, as a server (qdrant-client) or in process (Qdrant Edge).

Searches read an *alias* (``SEARCH_COLLECTION``) that names a physical collection;
``search_reindex`` fills a new collection beside it and moves the alias (no downtime). While a
rebuild runs, its collection is *building*: the indexer writes every change to it as well.

Every point carries its organization (``organization``, a keyword payload index with
``is_tenant``) and every query and delete is filtered by it. Point ids are UUIDv5 of
(organization, record type, record id, chunk number), so writing a record twice writes the
same points, and the chunks past a record's new length are deleted by a filter.

The embedded default runs Qdrant Edge, the Qdrant engine in process, on files under
``DATA_DIR/qdrant``. The web processes and the worker are separate processes that share those
files, and an Edge shard belongs to one process at a time: each operation opens the shard
under an exclusive file lock, works and closes it (writes are flushed before the lock goes).
qdrant-client's local mode was not chosen: it is also one process at a time, and it keeps every
vector in Python memory with a brute-force search, where Edge is the real engine (HNSW,
payload indexes, the same filters as the server).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

RECORD_VECTORS = 64  # the chunks of one record a "related" search reads (a long document's first)
NAMESPACE = uuid.UUID("5b0c1f3e-2f4a-4c1e-9a57-6d1f0e6b7a10")


def point_id(organization_id: int, record_type: str, record_id: int, chunk_no: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{organization_id}/{record_type}/{record_id}/{chunk_no}"))


@dataclass(frozen=True)
class Passage:
    organization_id: int
    record_type: str
    record_id: int
    chunk_no: int
    start: int
    text: str
    title: str
    owner_id: int | None
    date: datetime.datetime
    page: int | None
    url: str
    vector: list[float]

    def payload(self) -> dict[str, Any]:
        return {
            "organization": str(self.organization_id),
            "record_type": self.record_type,
            "record_id": self.record_id,
            "chunk": self.chunk_no,
            "start": self.start,
            "text": self.text,
            "title": self.title,
            "owner_id": self.owner_id,
            "date": self.date.isoformat(),
            "page": self.page,
            "url": self.url,
        }


@dataclass(frozen=True)
class Query:
    organization_id: int
    vector: list[float]
    limit: int
    record_types: Sequence[str] = ()
    owner_id: int | None = None
    date_from: datetime.datetime | None = None
    date_to: datetime.datetime | None = None
    exclude_record: tuple[str, int] | None = None


@dataclass(frozen=True)
class Hit:
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


class VectorStore(Protocol):
    def collections(self) -> tuple[str | None, str | None]:
        """(the alias's collection, the collection being built), each None if there is none."""

    def create(self, name: str, dimensions: int) -> None: ...
    def drop(self, name: str) -> None: ...
    def set_building(self, name: str | None) -> None: ...
    def switch_alias(self, name: str) -> str | None:
        """Point the alias at ``name``; returns the collection it named before."""

    def upsert(self, name: str, passages: Sequence[Passage]) -> None: ...
    def delete_record(
        self, name: str, organization_id: int, record_type: str, record_id: int, from_chunk: int
    ) -> None: ...
    def delete_organization(self, name: str, organization_id: int) -> None: ...
    def search(self, name: str, query: Query) -> list[Hit]: ...
    def vectors_of(
        self, name: str, organization_id: int, records: Sequence[tuple[str, int]]
    ) -> list[list[float]]:
        """The stored vectors of these records' chunks (at most RECORD_VECTORS of each)."""

    def count(self, name: str, organization_id: int) -> int: ...


def new_collection_name() -> str:
    return f"{settings.SEARCH_COLLECTION}_{datetime.datetime.now(datetime.UTC):%Y%m%d%H%M%S%f}"


# --- Qdrant Edge (embedded default) ---------------------------------------------------------------


class EdgeStore:
    def __init__(self, root: Path, alias: str) -> None:
        self.root = root
        self.alias = alias

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _state_path(self) -> Path:
        return self.root / f"{self.alias}.json"

    def _state(self) -> dict[str, str | None]:
        try:
            return json.loads(self._state_path().read_text())
        except FileNotFoundError:
            return {"current": None, "building": None}

    def _write_state(self, state: dict[str, str | None]) -> None:
        temporary = self._state_path().with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self._state_path())  # atomic: readers see the old or the new alias

    def collections(self) -> tuple[str | None, str | None]:
        with self._locked():
            state = self._state()
        return state.get("current"), state.get("building")

    @contextlib.contextmanager
    def _shard(self, name: str, *, writes: bool = True) -> Iterator[Any]:
        from qdrant_edge import EdgeShard

        with self._locked():
            shard = EdgeShard.load(str(self.root / name))
            try:
                yield shard
                if writes:
                    shard.flush()
            finally:
                shard.close()

    def create(self, name: str, dimensions: int) -> None:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeVectorParams,
            IntegerIndexParams,
            KeywordIndexParams,
            PayloadSchemaType,
            UpdateOperation,
        )

        with self._locked():
            shard = EdgeShard.create(
                str(self.root / name),
                EdgeConfig(vectors=EdgeVectorParams(size=dimensions, distance=Distance.Cosine)),
            )
            try:
                shard.update(
                    UpdateOperation.create_field_index("organization", KeywordIndexParams(is_tenant=True))
                )
                shard.update(UpdateOperation.create_field_index("record_type", PayloadSchemaType.Keyword))
                shard.update(
                    UpdateOperation.create_field_index(
                        "record_id", IntegerIndexParams(lookup=True, range=False)
                    )
                )
                shard.update(
                    UpdateOperation.create_field_index("chunk", IntegerIndexParams(lookup=False, range=True))
                )
                shard.update(UpdateOperation.create_field_index("owner_id", PayloadSchemaType.Integer))
                shard.update(UpdateOperation.create_field_index("date", PayloadSchemaType.Datetime))
                shard.flush()
            finally:
                shard.close()

    def drop(self, name: str) -> None:
        with self._locked():
            shutil.rmtree(self.root / name, ignore_errors=True)

    def set_building(self, name: str | None) -> None:
        with self._locked():
            state = self._state()
            state["building"] = name
            self._write_state(state)

    def switch_alias(self, name: str) -> str | None:
        with self._locked():
            state = self._state()
            previous = state.get("current")
            state["current"] = name
            if state.get("building") == name:
                state["building"] = None
            self._write_state(state)
        return previous

    def upsert(self, name: str, passages: Sequence[Passage]) -> None:
        from qdrant_edge import Point, UpdateOperation

        if not passages:
            return
        points = [
            Point(
                point_id(p.organization_id, p.record_type, p.record_id, p.chunk_no),
                p.vector,
                p.payload(),
            )
            for p in passages
        ]
        with self._shard(name) as shard:
            shard.update(UpdateOperation.upsert_points(points))

    def delete_record(
        self, name: str, organization_id: int, record_type: str, record_id: int, from_chunk: int
    ) -> None:
        from qdrant_edge import UpdateOperation

        with self._shard(name) as shard:
            shard.update(
                UpdateOperation.delete_points_by_filter(
                    _edge_filter(organization_id, record=(record_type, record_id), from_chunk=from_chunk)
                )
            )

    def delete_organization(self, name: str, organization_id: int) -> None:
        from qdrant_edge import UpdateOperation

        with self._shard(name) as shard:
            shard.update(UpdateOperation.delete_points_by_filter(_edge_filter(organization_id)))

    def search(self, name: str, query: Query) -> list[Hit]:
        from qdrant_edge import Query as EdgeQuery
        from qdrant_edge import QueryRequest

        with self._shard(name, writes=False) as shard:
            points = shard.query(
                QueryRequest(
                    limit=query.limit,
                    query=EdgeQuery.Nearest(query.vector),
                    filter=_edge_filter(query.organization_id, query=query),
                    with_payload=True,
                )
            )
        return [Hit(score=float(p.score), payload=dict(p.payload or {})) for p in points]

    def vectors_of(
        self, name: str, organization_id: int, records: Sequence[tuple[str, int]]
    ) -> list[list[float]]:
        from qdrant_edge import ScrollRequest

        found: list[list[float]] = []
        with self._shard(name, writes=False) as shard:
            for record in records:
                points, _ = shard.scroll(
                    ScrollRequest(
                        limit=RECORD_VECTORS,
                        filter=_edge_filter(organization_id, record=record),
                        with_payload=False,
                        with_vector=True,
                    )
                )
                found += [_plain_vector(p.vector) for p in points if p.vector is not None]
        return found

    def count(self, name: str, organization_id: int) -> int:
        from qdrant_edge import CountRequest

        with self._shard(name, writes=False) as shard:
            return int(shard.count(CountRequest(filter=_edge_filter(organization_id), exact=True)))


def _plain_vector(vector: Any) -> list[float]:
    """A point's (unnamed) vector as a list, whether the client gives a list or {"": list}."""
    if isinstance(vector, dict):
        vector = next(iter(vector.values()))
    return [float(x) for x in vector]


def _edge_filter(
    organization_id: int,
    *,
    record: tuple[str, int] | None = None,
    from_chunk: int = 0,
    query: Query | None = None,
) -> Any:
    from qdrant_edge import FieldCondition, Filter, MatchAny, MatchValue, RangeDateTime, RangeFloat

    must: list[Any] = [FieldCondition("organization", match=MatchValue(str(organization_id)))]
    must_not: list[Any] = []
    if record is not None:
        must.append(FieldCondition("record_type", match=MatchValue(record[0])))
        must.append(FieldCondition("record_id", match=MatchValue(record[1])))
        if from_chunk:
            must.append(FieldCondition("chunk", range=RangeFloat(gte=float(from_chunk))))
    if query is not None:
        if query.record_types:
            must.append(FieldCondition("record_type", match=MatchAny(list(query.record_types))))
        if query.owner_id is not None:
            must.append(FieldCondition("owner_id", match=MatchValue(query.owner_id)))
        if query.date_from or query.date_to:
            must.append(
                FieldCondition(
                    "date",
                    range=RangeDateTime(
                        gte=query.date_from.isoformat() if query.date_from else None,
                        lt=query.date_to.isoformat() if query.date_to else None,
                    ),
                )
            )
        if query.exclude_record is not None:
            must_not.append(
                Filter(
                    must=[
                        FieldCondition("record_type", match=MatchValue(query.exclude_record[0])),
                        FieldCondition("record_id", match=MatchValue(query.exclude_record[1])),
                    ]
                )
            )
    return Filter(must=must, must_not=must_not or None)


# --- Qdrant server (qdrant-client) ----------------------------------------------------------------


class ServerStore:
    def __init__(self, url: str, api_key: str | None, timeout: float, alias: str) -> None:
        from qdrant_client import QdrantClient

        self.client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout))
        self.alias = alias
        self.marker = f"{alias}__building"

    def _alias_target(self, alias: str) -> str | None:
        for item in self.client.get_aliases().aliases:
            if item.alias_name == alias:
                return str(item.collection_name)
        return None

    def collections(self) -> tuple[str | None, str | None]:
        return self._alias_target(self.alias), self._alias_target(self.marker)

    def create(self, name: str, dimensions: int) -> None:
        from qdrant_client import models

        self.client.create_collection(
            name, vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE)
        )
        indexes: list[tuple[str, Any]] = [
            ("organization", models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)),
            ("record_type", models.PayloadSchemaType.KEYWORD),
            ("record_id", models.PayloadSchemaType.INTEGER),
            ("chunk", models.PayloadSchemaType.INTEGER),
            ("owner_id", models.PayloadSchemaType.INTEGER),
            ("date", models.PayloadSchemaType.DATETIME),
        ]
        for field_name, schema in indexes:
            self.client.create_payload_index(name, field_name, field_schema=schema, wait=True)

    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    def set_building(self, name: str | None) -> None:
        from qdrant_client import models

        operations: list[Any] = [
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.marker))
        ]
        if self._alias_target(self.marker) is None:
            operations = []
        if name is not None:
            operations.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=self.marker)
                )
            )
        if operations:
            self.client.update_collection_aliases(change_aliases_operations=operations)

    def switch_alias(self, name: str) -> str | None:
        from qdrant_client import models

        previous = self._alias_target(self.alias)
        operations: list[Any] = []
        if previous is not None:
            operations.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.alias))
            )
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)
            )
        )
        # One request: Qdrant applies the alias changes atomically, searches never miss.
        self.client.update_collection_aliases(change_aliases_operations=operations)
        if self._alias_target(self.marker) == name:
            self.set_building(None)
        return previous

    def upsert(self, name: str, passages: Sequence[Passage]) -> None:
        from qdrant_client import models

        if not passages:
            return
        self.client.upsert(
            name,
            points=[
                models.PointStruct(
                    id=point_id(p.organization_id, p.record_type, p.record_id, p.chunk_no),
                    vector=p.vector,
                    payload=p.payload(),
                )
                for p in passages
            ],
            wait=True,
        )

    def delete_record(
        self, name: str, organization_id: int, record_type: str, record_id: int, from_chunk: int
    ) -> None:
        from qdrant_client import models

        self.client.delete(
            name,
            points_selector=models.FilterSelector(
                filter=_server_filter(organization_id, record=(record_type, record_id), from_chunk=from_chunk)
            ),
            wait=True,
        )

    def delete_organization(self, name: str, organization_id: int) -> None:
        from qdrant_client import models

        self.client.delete(
            name, points_selector=models.FilterSelector(filter=_server_filter(organization_id)), wait=True
        )

    def search(self, name: str, query: Query) -> list[Hit]:
        response = self.client.query_points(
            name,
            query=query.vector,
            query_filter=_server_filter(query.organization_id, query=query),
            limit=query.limit,
            with_payload=True,
        )
        return [Hit(score=float(p.score), payload=dict(p.payload or {})) for p in response.points]

    def vectors_of(
        self, name: str, organization_id: int, records: Sequence[tuple[str, int]]
    ) -> list[list[float]]:
        found: list[list[float]] = []
        for record in records:
            points, _ = self.client.scroll(
                name,
                scroll_filter=_server_filter(organization_id, record=record),
                limit=RECORD_VECTORS,
                with_payload=False,
                with_vectors=True,
            )
            found += [_plain_vector(p.vector) for p in points if p.vector is not None]
        return found

    def count(self, name: str, organization_id: int) -> int:
        return int(self.client.count(name, count_filter=_server_filter(organization_id), exact=True).count)


def _server_filter(
    organization_id: int,
    *,
    record: tuple[str, int] | None = None,
    from_chunk: int = 0,
    query: Query | None = None,
) -> Any:
    from qdrant_client import models

    must: list[Any] = [
        models.FieldCondition(key="organization", match=models.MatchValue(value=str(organization_id)))
    ]
    must_not: list[Any] = []
    if record is not None:
        must.append(models.FieldCondition(key="record_type", match=models.MatchValue(value=record[0])))
        must.append(models.FieldCondition(key="record_id", match=models.MatchValue(value=record[1])))
        if from_chunk:
            must.append(models.FieldCondition(key="chunk", range=models.Range(gte=from_chunk)))
    if query is not None:
        if query.record_types:
            must.append(
                models.FieldCondition(key="record_type", match=models.MatchAny(any=list(query.record_types)))
            )
        if query.owner_id is not None:
            must.append(models.FieldCondition(key="owner_id", match=models.MatchValue(value=query.owner_id)))
        if query.date_from or query.date_to:
            must.append(
                models.FieldCondition(
                    key="date", range=models.DatetimeRange(gte=query.date_from, lt=query.date_to)
                )
            )
        if query.exclude_record is not None:
            must_not.append(
                models.Filter(
                    must=[
                        models.FieldCondition(
                            key="record_type", match=models.MatchValue(value=query.exclude_record[0])
                        ),
                        models.FieldCondition(
                            key="record_id", match=models.MatchValue(value=query.exclude_record[1])
                        ),
                    ]
                )
            )
    return models.Filter(must=must, must_not=must_not or None)


_stores: dict[str, VectorStore] = {}


def store() -> VectorStore:
    """The configured store (one per process and configuration)."""
    key = f"{settings.QDRANT_URL}|{settings.QDRANT_PATH}|{settings.SEARCH_COLLECTION}"
    if key not in _stores:
        if settings.QDRANT_URL:
            _stores[key] = ServerStore(
                settings.QDRANT_URL,
                settings.QDRANT_API_KEY,
                settings.QDRANT_TIMEOUT,
                settings.SEARCH_COLLECTION,
            )
        else:
            _stores[key] = EdgeStore(Path(settings.QDRANT_PATH), settings.SEARCH_COLLECTION)
    return _stores[key]
