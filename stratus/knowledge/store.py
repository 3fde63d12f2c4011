"""The vector store: Qdrant, as a server (qdrant-client) or in process (Qdrant Edge).

Searches read an *alias* (``SEARCH_COLLECTION``) that names a physical collection;
``search_reindex`` fills a new collection beside it and moves the alias (no downtime). While a
rebuild runs, its collection is *building*: the indexer writes every change to it as well.

Every point carries its organization (``organization``, a keyword payload index with
``is_tenant``) and every query and delete is filtered by it. Point ids are UUIDv5 of
(organization, record type, record id, chunk number), so writing a record twice writes the
same points, and the chunks past a record's new length are deleted by a filter.

The embedded default runs Qdrant Edge, the Qdrant engine in process, on files under
``DATA_DIR/qdrant``. The web process and the worker are separate processes that share those
files, and only one EdgeShard may be open on a directory at a time. A process therefore
*holds* a collection's shard: its first operation takes the collection's exclusive file lock
(``.locks/NAME.lock``) and loads the shard, and the following operations of any of its threads
use the same open shard (the engine is safe from several threads) until the process has left
it unused for ``HOLD_IDLE`` seconds, or another process waits for it. A waiting process holds
a shared lock on ``.locks/NAME.wait``, which the holder tests every ``POLL`` seconds; once it
has had the shard for ``HOLD_MIN`` seconds or left it unused for ``GAP`` seconds, the holder
starts no new operation, closes the shard when its running ones end, and lets the waiting
process in before it asks again. Writes
are flushed before their operation ends, so the next process to load the shard sees them, and
no process reads a shard while another has it open, so no read is stale. The alias state
(``ALIAS.json``) has its own short lock (``.lock``). Before a fork a process closes its shards
(the child starts with none).
qdrant-client's local mode was not chosen: it is also one process at a time, and it keeps every
vector in Python memory with a brute-force search, where Edge is the real engine (HNSW,
payload indexes, the same filters as the server).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

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
    def optimize(self, name: str) -> None:
        """Build the collection's search index now (Edge builds it only when asked; a server
        runs its optimizers by itself)."""


def new_collection_name() -> str:
    return f"{settings.SEARCH_COLLECTION}_{datetime.datetime.now(datetime.UTC):%Y%m%d%H%M%S%f}"


# --- Qdrant Edge (embedded default) ---------------------------------------------------------------


HOLD_IDLE = 2.0  # seconds a process keeps a shard open after its last operation
HOLD_MIN = 1.0  # seconds a process may go on using a shard once another process waits for it
GAP = 0.05  # ... or once it has left the shard unused this long
POLL = 0.01  # how often a holding process looks for a waiting one
HAND_OVER = 2.0  # at most this long, a process that yielded a shard lets the other one take it first


def _flock(handle: IO[str], operation: int) -> bool:
    """flock(); False when LOCK_NB is asked and the lock is taken."""
    try:
        fcntl.flock(handle, operation)
    except BlockingIOError:
        return False
    return True


class _Holder:
    """This process's turn at one collection's shard (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.parent / ".locks" / f"{path.name}.lock"
        self.wait_path = path.parent / ".locks" / f"{path.name}.wait"
        self.cond = threading.Condition()
        self.shard: Any = None
        self.lock_file: IO[str] | None = None
        self.users = 0  # operations running on the open shard
        self.busy = False  # a thread is opening the shard, or has it closed to create or drop it
        self.yielding = False  # another process waits: no new operation until the shard is closed
        self.handed_over = False  # the last close was for a waiting process
        self.since = 0.0  # when the shard was opened
        self.last = 0.0  # when its last operation ended
        self.watcher: threading.Thread | None = None

    # -- the file locks --

    def _someone_waits(self) -> bool:
        if not self.wait_path.parent.exists():
            return False  # the data directory went: nobody can wait for it
        with open(self.wait_path, "a") as marker:
            if _flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB):
                fcntl.flock(marker, fcntl.LOCK_UN)
                return False
            return True

    def _take_lock(self) -> IO[str]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        if self.handed_over:  # let the process this one yielded to have its turn first
            deadline = time.monotonic() + HAND_OVER
            while self._someone_waits() and time.monotonic() < deadline:
                time.sleep(POLL)
            self.handed_over = False
        lock_file = open(self.lock_path, "a")  # noqa: SIM115 - held until the shard is closed
        if not _flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB):
            with open(self.wait_path, "a") as marker:
                fcntl.flock(marker, fcntl.LOCK_SH)  # tells the holder that this process waits
                try:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)
                except BaseException:
                    lock_file.close()
                    raise
        return lock_file

    # -- the open shard --

    @contextlib.contextmanager
    def use(self) -> Iterator[Any]:
        from qdrant_edge import EdgeShard

        with self.cond:
            while self.busy or self.yielding:
                self.cond.wait()
            opening = self.shard is None
            if opening:
                self.busy = True
            else:
                self.users += 1
        if opening:
            try:
                lock_file = self._take_lock()
                try:
                    shard = EdgeShard.load(str(self.path))
                except BaseException:
                    lock_file.close()  # closing the file drops its lock
                    raise
            except BaseException:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()
                raise
            with self.cond:
                self.shard, self.lock_file = shard, lock_file
                self.since = time.monotonic()
                self.users += 1
                self.busy = False
                self.cond.notify_all()
                if self.watcher is None:
                    self.watcher = threading.Thread(
                        target=self._watch, name=f"edge-{self.path.name}", daemon=True
                    )
                    self.watcher.start()
        try:
            yield self.shard
        finally:
            with self.cond:
                self.users -= 1
                self.last = time.monotonic()
                self.cond.notify_all()

    def _watch(self) -> None:
        """Close the shard once idle, or once another process waits and this one had its turn
        (``HOLD_MIN``) or paused (``GAP``: the operations of one batch follow each other closer)."""
        with self.cond:
            while self.shard is not None:
                now = time.monotonic()
                idle = now - self.last if self.users == 0 else 0.0
                if not self.yielding and (now - self.since >= HOLD_MIN or idle >= GAP):
                    self.yielding = self._someone_waits()
                if self.users == 0 and (self.yielding or idle >= HOLD_IDLE):
                    try:
                        self._close()
                    except Exception:  # the shard's files went (a dropped directory): it is closed
                        logger.warning("closing the Edge shard %s failed", self.path, exc_info=True)
                    break
                self.cond.wait(POLL)
            self.watcher = None

    def _close(self) -> None:
        """With ``cond`` held and no operation running: close the shard, then drop the lock."""
        try:
            self.shard.close()
        finally:
            assert self.lock_file is not None
            self.lock_file.close()
            self.shard, self.lock_file = None, None
            self.handed_over = self.yielding
            self.yielding = False
            self.cond.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Close the shard as soon as its running operations end (before a fork, at exit)."""
        with self.cond:
            self.yielding = self.shard is not None
            if self.cond.wait_for(lambda: self.users == 0 and not self.busy, timeout):
                if self.shard is not None:
                    self._close()
                self.handed_over = False
            self.yielding = False
            self.cond.notify_all()

    def exclusively(self, work: Callable[[], None]) -> None:
        """Run ``work`` with the collection's lock and no shard open (to create or drop it)."""
        with self.cond:
            self.cond.wait_for(lambda: not self.busy)
            self.busy = True
            self.yielding = self.shard is not None
            self.cond.wait_for(lambda: self.users == 0)
            if self.shard is not None:
                self._close()
            self.yielding = False
        try:
            lock_file = self._take_lock()
            try:
                work()
            finally:
                lock_file.close()
        finally:
            with self.cond:
                self.busy = False
                self.cond.notify_all()


_holders: dict[Path, _Holder] = {}
_holders_lock = threading.Lock()


def _holder(path: Path) -> _Holder:
    path = path.absolute()
    with _holders_lock:
        if path not in _holders:
            _holders[path] = _Holder(path)
        return _holders[path]


def close_shards(timeout: float | None = None) -> None:
    """Close every shard this process holds, each when its running operations end."""
    with _holders_lock:
        holders = list(_holders.values())
    for holder in holders:
        holder.close(timeout)


def _forget_shards() -> None:
    """In a forked child: the parent's holders (closed before the fork) are not the child's."""
    global _holders_lock
    _holders_lock = threading.Lock()
    _holders.clear()


os.register_at_fork(before=lambda: close_shards(timeout=30), after_in_child=_forget_shards)
atexit.register(close_shards, timeout=10)


class EdgeStore:
    def __init__(self, root: Path, alias: str) -> None:
        self.root = root
        self.alias = alias

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The alias state's lock (short; never held while waiting for a shard)."""
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
        with _holder(self.root / name).use() as shard:
            yield shard
            if writes:
                shard.flush()  # before the operation ends: the next process to load it sees it

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

        def make() -> None:
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

        self.root.mkdir(parents=True, exist_ok=True)
        _holder(self.root / name).exclusively(make)

    def drop(self, name: str) -> None:
        _holder(self.root / name).exclusively(lambda: shutil.rmtree(self.root / name, ignore_errors=True))

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

    def optimize(self, name: str) -> None:
        """Merge the collection's segments and build its HNSW index (Qdrant Edge runs no
        optimizer in the background: without this, points are searched exhaustively)."""
        with self._shard(name) as shard:
            shard.optimize()


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

    def optimize(self, name: str) -> None:
        """Nothing to do: the server's optimizers index a collection as it fills."""


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
