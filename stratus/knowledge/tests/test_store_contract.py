"""The vector store's contract, on both implementations: Qdrant Edge (the embedded default, the
Qdrant engine in process) and ``ServerStore`` (production's qdrant-client code path).

No Qdrant server can be had on this machine, so ``ServerStore`` runs here on qdrant-client's
local mode (``QdrantClient(location=":memory:")``): the same client calls, requests and filter
models the server receives, answered by the client's reference implementation. It shows that
the code builds valid requests with the intended meaning (aliases, tenant filter, ranges,
must-not, deletes by filter); the server's own engine is not exercised (see docs/search.md)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.knowledge import store as store_module
from stratus.knowledge.store import EdgeStore, Passage, Query, ServerStore

DIMENSIONS = 8
DAY = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def _vector(*weights: float) -> list[float]:
    values = [*weights, *([0.0] * (DIMENSIONS - len(weights)))]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _passage(
    org: int,
    record_type: str,
    record_id: int,
    chunk: int,
    vector: list[float],
    *,
    owner: int | None = None,
    date: datetime.datetime = DAY,
) -> Passage:
    return Passage(
        organization_id=org,
        record_type=record_type,
        record_id=record_id,
        chunk_no=chunk,
        start=chunk * 100,
        text=f"{record_type} {record_id} chunk {chunk}",
        title=f"{record_type} {record_id}",
        owner_id=owner,
        date=date,
        page=None,
        url=f"/{record_type}s/{record_id}",
        vector=vector,
    )


def _server_store() -> ServerStore:
    from qdrant_client import QdrantClient

    server = ServerStore.__new__(ServerStore)
    server.client = QdrantClient(location=":memory:")
    server.alias = "passages"
    server.marker = "passages__building"
    return server


# qdrant-client's local mode warns that payload indexes do nothing in it (the server builds them).
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")


@pytest.fixture(params=["edge", "server"])
def vectors(request: Any, tmp_path: Path) -> Iterator[Any]:
    if request.param == "edge":
        yield EdgeStore(tmp_path / "qdrant", "passages")
        store_module.close_shards()
    else:
        server = _server_store()
        yield server
        server.client.close()


def _found(hits: list[Any]) -> list[tuple[str, int, int]]:
    return [(h.payload["record_type"], h.payload["record_id"], h.payload["chunk"]) for h in hits]


def test_the_alias_a_building_collection_and_the_switch(vectors: Any) -> None:
    assert vectors.collections() == (None, None)
    vectors.create("passages_1", DIMENSIONS)
    assert vectors.switch_alias("passages_1") is None
    assert vectors.collections() == ("passages_1", None)

    vectors.create("passages_2", DIMENSIONS)
    vectors.set_building("passages_2")
    assert vectors.collections() == ("passages_1", "passages_2")
    # Moving the alias to the collection being built ends its building.
    assert vectors.switch_alias("passages_2") == "passages_1"
    assert vectors.collections() == ("passages_2", None)
    vectors.drop("passages_1")
    assert vectors.collections() == ("passages_2", None)


def test_searches_are_filtered_by_organization_type_owner_date_and_exclusion(vectors: Any) -> None:
    vectors.create("c", DIMENSIONS)
    close = _vector(1, 0.1)
    vectors.upsert(
        "c",
        [
            _passage(1, "activity", 10, 0, close, owner=5),
            _passage(1, "activity", 11, 0, _vector(1, 0.5), owner=6, date=DAY - datetime.timedelta(days=30)),
            _passage(1, "document", 12, 0, _vector(1, 0.9), owner=5),
            _passage(1, "document", 12, 1, _vector(0, 1)),
            _passage(2, "activity", 20, 0, close, owner=5),  # the same text in another organization
        ],
    )
    query = _vector(1, 0)
    assert _found(vectors.search("c", Query(1, query, 10))) == [
        ("activity", 10, 0),
        ("activity", 11, 0),
        ("document", 12, 0),
        ("document", 12, 1),
    ]
    assert _found(vectors.search("c", Query(2, query, 10))) == [("activity", 20, 0)]
    assert vectors.search("c", Query(3, query, 10)) == []
    assert _found(vectors.search("c", Query(1, query, 10, record_types=("document",)))) == [
        ("document", 12, 0),
        ("document", 12, 1),
    ]
    assert _found(vectors.search("c", Query(1, query, 10, owner_id=5))) == [
        ("activity", 10, 0),
        ("document", 12, 0),
    ]
    recent = Query(
        1, query, 10, date_from=DAY - datetime.timedelta(days=1), date_to=DAY + datetime.timedelta(days=1)
    )
    assert ("activity", 11, 0) not in _found(vectors.search("c", recent))
    assert len(_found(vectors.search("c", recent))) == 3
    excluded = Query(1, query, 10, exclude_record=("document", 12))
    assert _found(vectors.search("c", excluded)) == [("activity", 10, 0), ("activity", 11, 0)]
    hits = vectors.search("c", Query(1, query, 1))
    assert len(hits) == 1
    assert hits[0].score == pytest.approx(sum(a * b for a, b in zip(close, query, strict=True)))
    assert hits[0].payload["organization"] == "1"
    assert hits[0].payload["url"] == "/activitys/10"


def test_writing_again_replaces_points_and_deletes_go_by_record_chunk_and_organization(vectors: Any) -> None:
    vectors.create("c", DIMENSIONS)
    first = [_passage(1, "document", 7, chunk, _vector(1, chunk)) for chunk in range(4)]
    vectors.upsert("c", first)
    vectors.upsert("c", first[:2])  # the same ids: no duplicate points
    vectors.upsert("c", [_passage(2, "document", 7, 0, _vector(1))])
    assert vectors.count("c", 1) == 4
    assert vectors.count("c", 2) == 1

    # The record shrank to two chunks: the chunks from 2 on go, in its organization only.
    vectors.delete_record("c", 1, "document", 7, 2)
    assert vectors.count("c", 1) == 2
    assert sorted(_found(vectors.search("c", Query(1, _vector(1), 10)))) == [
        ("document", 7, 0),
        ("document", 7, 1),
    ]
    assert len(vectors.vectors_of("c", 1, [("document", 7)])) == 2
    assert vectors.vectors_of("c", 1, [("document", 8)]) == []
    stored = vectors.vectors_of("c", 2, [("document", 7)])
    assert len(stored) == 1
    assert stored[0] == pytest.approx(_vector(1), abs=1e-6)

    vectors.delete_record("c", 1, "document", 7, 0)
    assert vectors.count("c", 1) == 0
    assert vectors.count("c", 2) == 1
    vectors.upsert("c", first)
    vectors.optimize("c")  # the rebuild's last step: the same points, now indexed
    assert vectors.count("c", 1) == 4
    assert _found(vectors.search("c", Query(1, _vector(1), 1))) == [("document", 7, 0)]
    vectors.delete_organization("c", 1)
    assert vectors.count("c", 1) == 0
    assert vectors.count("c", 2) == 1
