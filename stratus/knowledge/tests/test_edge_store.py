"""The embedded store's shard holding: one process at a time, turns between processes, no stale read.

Another process is a real one (``subprocess``) on the same directory, as the worker is for the
web process. No database is needed.
"""

from __future__ import annotations

import datetime
import fcntl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stratus.knowledge import store as store_module
from stratus.knowledge.store import EdgeStore, Passage, Query

pytestmark = pytest.mark.subprocess  # the other process

ROOT = Path(__file__).resolve().parents[3]
DIMENSIONS = 8
NAME = "c"

# The other process: upserts record N, then prints the record ids it finds, one per line.
CHILD = """
import datetime, sys
from pathlib import Path
from stratus.knowledge.store import EdgeStore, Passage, Query

root, record = Path(sys.argv[1]), int(sys.argv[2])
store = EdgeStore(root, "test")
vector = [1.0] + [0.0] * 7
now = datetime.datetime.now(datetime.UTC)
store.upsert("c", [Passage(1, "activity", record, 0, 0, "t", "t", None, now, None, "/", vector)])
for hit in store.search("c", Query(organization_id=1, vector=vector, limit=50)):
    print(hit.payload["record_id"])
"""


def _passage(record: int) -> Passage:
    now = datetime.datetime.now(datetime.UTC)
    return Passage(1, "activity", record, 0, 0, "t", "t", None, now, None, "/", [1.0] + [0.0] * 7)


def _found(store: EdgeStore) -> set[int]:
    hits = store.search(NAME, Query(organization_id=1, vector=[1.0] + [0.0] * 7, limit=50))
    return {int(hit.payload["record_id"]) for hit in hits}


def _child(root: Path, record: int) -> set[int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(record)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {int(line) for line in done.stdout.split()}


def _lock_is_free(root: Path) -> bool:
    with open(root / ".locks" / f"{NAME}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


@pytest.fixture
def store(tmp_path: Path) -> Any:
    edge = EdgeStore(tmp_path, "test")
    edge.create(NAME, DIMENSIONS)
    yield edge
    store_module.close_shards()


def test_two_processes_take_turns_and_each_sees_the_others_writes(
    store: EdgeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "HOLD_IDLE", 600.0)  # only a waiting process makes it let go
    monkeypatch.setattr(store_module, "HOLD_MIN", 0.0)
    store.upsert(NAME, [_passage(1)])
    assert _found(store) == {1}
    assert not _lock_is_free(tmp_path)  # this process holds the shard
    assert _child(tmp_path, 2) == {1, 2}  # the other process got in, and read this one's write
    assert _found(store) == {1, 2}  # and this one reads the other's: it loaded the shard again
    store.upsert(NAME, [_passage(3)])
    assert _child(tmp_path, 4) == {1, 2, 3, 4}
    assert _found(store) == {1, 2, 3, 4}


def test_a_held_shard_is_let_go_after_the_idle_time(
    store: EdgeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "HOLD_IDLE", 0.2)
    store.upsert(NAME, [_passage(1)])
    assert not _lock_is_free(tmp_path)
    deadline = time.monotonic() + 30
    while not _lock_is_free(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lock_is_free(tmp_path)
    assert _found(store) == {1}  # opened again on demand


def test_a_busy_process_lets_a_waiting_one_in_and_then_reads_its_write(
    store: EdgeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "HOLD_IDLE", 600.0)
    monkeypatch.setattr(store_module, "HOLD_MIN", 0.2)
    store.upsert(NAME, [_passage(1)])
    stop = threading.Event()
    seen: list[set[int]] = []
    errors: list[BaseException] = []

    def reader() -> None:  # searches without a pause, as users of the web process would
        try:
            while not stop.is_set():
                seen.append(_found(store))
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        assert _child(tmp_path, 2) == {1, 2}
        after = len(seen)
        deadline = time.monotonic() + 60
        while len(seen) == after and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in readers:
            thread.join(60)
    assert not errors
    assert seen[-1] == {1, 2}
    assert all(found in ({1}, {1, 2}) for found in seen)


def test_threads_of_one_process_share_the_open_shard(
    store: EdgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "HOLD_IDLE", 600.0)
    store.upsert(NAME, [_passage(0)])
    shards: list[Any] = []
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for step in range(10):
                record = number * 100 + step + 1
                store.upsert(NAME, [_passage(record)])
                assert store.vectors_of(NAME, 1, [("activity", record)])  # its own write, at once
                with store._shard(NAME, writes=False) as shard:
                    shards.append(shard)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert len(shards) == 80
    assert len({id(shard) for shard in shards}) == 1  # one load for them all
    assert store.count(NAME, 1) == 81


def test_drop_closes_the_held_shard_and_create_makes_a_new_one(store: EdgeStore, tmp_path: Path) -> None:
    store.upsert(NAME, [_passage(1)])
    store.drop(NAME)
    assert not (tmp_path / NAME).exists()
    assert _lock_is_free(tmp_path)
    store.create(NAME, DIMENSIONS)
    assert _found(store) == set()
