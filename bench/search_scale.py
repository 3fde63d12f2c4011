"""Qdrant Edge at scale: a 1,000,000-point shard, and queries by meaning from 8 users.

    # 1. build the shard (vectors derived from real embeddings, see below) and time optimize
    nice uv run --frozen python -m bench.search_scale build --root /tmp/scale --points 1000000
    # 2. the shard alone: load time, query time on an open shard, memory
    nice uv run --frozen python -m bench.search_scale shard --root /tmp/scale
    # 3. 8 users through the app's selector (selectors.by_meaning) for 60 s
    nice uv run --frozen python -m bench.search_scale users --root /tmp/scale --users 8 --seconds 60 \
        [--store-module /path/to/an/older/store.py]

Embedding a million chunks would take the packaged model about 14 hours here, so the points
are derived from real embeddings: the 1,061 passages of ``bench/search_eval/dataset.json``
are embedded once with the app's embedder (cached in ``ROOT/passages.npy``), and point ``i``
is ``normalise(passage[a] + 0.5 * passage[b] + noise)`` (``a``, ``b`` drawn at random, noise
N(0, 0.03) per dimension): unit vectors spread around the real ones, as chunks on the same
topics would be. The payload is the one the indexer writes (``Passage.payload()``, text of
~300 characters) and the shard is made by ``EdgeStore.create`` (the same payload indexes).
Organizations: ``--big`` of the points (default 91%) belong to organization 1, the rest to
organizations 2..10 (1% each). Queries are the dataset's 347 questions, embedded once up
front (the time per question is reported apart), filtered by organization 1 (``--org``), top 10.

``users`` calls ``selectors.by_meaning`` from ``--users`` threads of one process (the web
process's threads), with the embedder replaced by the precomputed vectors; it reports the
latency per query (p50, p95, p99) and the throughput. ``--store-module`` loads another version
of ``stratus/knowledge/store.py`` (e.g. the one before the shard was kept open) for a
before/after comparison. Needs no database.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from stratus.knowledge.embeddings import LocalEmbedder  # noqa: E402
from stratus.knowledge.store import Passage, point_id  # noqa: E402

DATASET = Path(__file__).parent / "search_eval" / "dataset.json"
ALIAS = "scale"
COLLECTION = "scale_1"
DIMENSIONS = 384


def _dataset() -> dict[str, Any]:
    return json.loads(DATASET.read_text())


def _embed_cached(root: Path, kind: str, texts: list[str]) -> tuple[np.ndarray, float]:
    """The texts' embeddings (cached in ROOT/KIND.npy) and the seconds per text it took."""
    cache = root / f"{kind}.npy"
    timing = root / f"{kind}.json"
    if cache.exists():
        return np.load(cache), json.loads(timing.read_text())["seconds_per_text"]
    model = LocalEmbedder(settings.EMBEDDINGS_THREADS)
    model.embed(texts[:8])  # warm-up
    vectors: list[list[float]] = []
    started = time.perf_counter()
    if kind == "questions":  # one at a time, as a search request embeds its question
        for text in texts:
            vectors += model.embed([text])
    else:
        for offset in range(0, len(texts), 32):
            vectors += model.embed(texts[offset : offset + 32])
    per_text = (time.perf_counter() - started) / len(texts)
    array = np.array(vectors, dtype=np.float32)
    np.save(cache, array)
    timing.write_text(json.dumps({"seconds_per_text": per_text, "texts": len(texts)}))
    return array, per_text


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _disk_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _environment() -> dict[str, Any]:
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other engineers' runs)",
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "qdrant_edge": _version("qdrant-edge-py"),
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _organization(number: int, points: int, big: float) -> int:
    """Organization 1 holds the first ``big`` share of the points, 2..10 the rest in turn."""
    if number < int(points * big):
        return 1
    return 2 + number % 9


def build(args: argparse.Namespace) -> dict[str, Any]:
    from qdrant_edge import EdgeShard, Point, UpdateOperation

    from stratus.knowledge.store import EdgeStore

    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    data = _dataset()
    texts = [f"{p['record']['name']}: {p['text']}" for p in data["passages"]]
    base, per_passage = _embed_cached(root, "passages", texts)
    _embed_cached(root, "questions", [q["text"] for q in data["queries"]])
    store = EdgeStore(root / "qdrant", ALIAS)
    store.drop(COLLECTION)
    store.create(COLLECTION, DIMENSIONS)
    store.switch_alias(COLLECTION)
    rng = np.random.default_rng(17)
    pick = random.Random(17)
    now = datetime.datetime.now(datetime.UTC)
    shard = EdgeShard.load(str(root / "qdrant" / COLLECTION))
    started = time.perf_counter()
    written = 0
    while written < args.points:
        count = min(args.batch, args.points - written)
        first = rng.integers(0, len(base), count)
        second = rng.integers(0, len(base), count)
        vectors = (
            base[first] + 0.5 * base[second] + rng.normal(0, 0.03, (count, DIMENSIONS)).astype(np.float32)
        )
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        points = []
        for offset, vector in enumerate(vectors.tolist()):
            number = written + offset
            organization = _organization(number, args.points, args.big)
            source = data["passages"][int(first[offset])]
            passage = Passage(
                organization_id=organization,
                record_type=pick.choice(("activity", "activity", "activity", "company", "document")),
                record_id=number // 3 + 1,
                chunk_no=number % 3,
                start=(number % 3) * 260,
                text=(source["text"] + " ") * 3,
                title=source["record"]["name"],
                owner_id=pick.randint(1, 20),
                date=now - datetime.timedelta(minutes=number),
                page=None,
                url=f"/companies/{number // 30 + 1}",
                vector=vector,
            )
            points.append(
                Point(
                    point_id(organization, passage.record_type, passage.record_id, passage.chunk_no),
                    vector,
                    passage.payload(),
                )
            )
        shard.update(UpdateOperation.upsert_points(points))
        written += count
        if written % (args.batch * 10) == 0:
            elapsed = time.perf_counter() - started
            print(f"{written} points, {elapsed:.0f} s, {written / elapsed:.0f} points/s", flush=True)
    shard.flush()
    write_seconds = time.perf_counter() - started
    print(f"written in {write_seconds:.0f} s; optimizing", flush=True)
    optimize_started = time.perf_counter()
    optimized = shard.optimize()
    shard.flush()
    optimize_seconds = time.perf_counter() - optimize_started
    info = shard.info()
    shard.close()
    result = {
        **_environment(),
        "points": args.points,
        "organizations": f"1: {round(args.big * 100)}%, 2..10: the rest",
        "batch": args.batch,
        "passage_embedding_ms": round(per_passage * 1000, 1),
        "write_seconds": round(write_seconds, 1),
        "write_points_per_second": round(args.points / write_seconds),
        "optimize_seconds": round(optimize_seconds, 1),
        "optimized": optimized,
        "peak_rss_mb": round(_peak_rss_mb()),
        "disk_mb": round(_disk_mb(root / "qdrant" / COLLECTION)),
        "shard_info": str(info),
    }
    return result


def shard(args: argparse.Namespace) -> dict[str, Any]:
    from qdrant_edge import EdgeShard, QueryRequest
    from qdrant_edge import Query as EdgeQuery

    from stratus.knowledge.store import Query, _edge_filter

    path = str(args.root / "qdrant" / COLLECTION)
    questions = np.load(args.root / "questions.npy").tolist()
    rss_before = _rss_mb()
    loads = []
    for _ in range(args.loads):
        begun = time.perf_counter()
        opened = EdgeShard.load(path)
        loads.append(time.perf_counter() - begun)
        opened.close()
    opened = EdgeShard.load(path)
    rss_open = _rss_mb()
    timings: dict[str, list[float]] = {"big": [], "small": []}
    for round_number in range(args.rounds):
        for number, vector in enumerate(questions):
            organization = args.org if number % 2 == 0 else 2 + number % 9
            request = QueryRequest(
                limit=10,
                query=EdgeQuery.Nearest(vector),
                filter=_edge_filter(organization, query=Query(organization, vector, 10)),
                with_payload=True,
            )
            begun = time.perf_counter()
            opened.query(request)
            if round_number:  # the first round warms the caches
                timings["big" if organization == args.org else "small"].append(
                    (time.perf_counter() - begun) * 1000
                )
    rss_after = _rss_mb()
    opened.close()
    return {
        **_environment(),
        "load_seconds": [round(x, 2) for x in loads],
        "rss_mb_before_load": round(rss_before),
        "rss_mb_after_load": round(rss_open),
        "rss_mb_after_queries": round(rss_after),
        "query_ms_big_org": _summary(timings["big"]),
        "query_ms_small_org": _summary(timings["small"]),
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 2),
        "p95": round(_percentile(values, 0.95), 2),
        "p99": round(_percentile(values, 0.99), 2),
        "max": round(max(values), 2),
    }


def _load_store(path: Path) -> Any:
    """Another version of stratus/knowledge/store.py, as a module of its own."""
    spec = importlib.util.spec_from_file_location("store_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def users(args: argparse.Namespace) -> dict[str, Any]:
    from stratus.knowledge import selectors
    from stratus.knowledge import store as store_module

    settings.QDRANT_PATH = args.root / "qdrant"
    settings.QDRANT_URL = ""
    settings.SEARCH_COLLECTION = ALIAS
    data = _dataset()
    texts = [q["text"] for q in data["queries"]]
    vectors, per_question = _embed_cached(args.root, "questions", texts)
    by_text = dict(zip(texts, vectors.tolist(), strict=True))

    class Precomputed:
        name = "precomputed"
        dimensions = DIMENSIONS

        def embed(self, batch: list[str]) -> list[list[float]]:
            return [by_text[text] for text in batch]

    selectors.embedder = lambda: Precomputed()  # type: ignore[assignment]
    if args.store_module:
        other = _load_store(args.store_module)
        selectors.store = other.store
    else:
        other = store_module
    organization: Any = SimpleNamespace(pk=args.org)  # by_meaning reads only its pk
    writer = None
    if args.writer_interval:  # the worker: another process that writes now and then
        writer = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.search_scale", "writer", "--root", str(args.root)),
                *("--interval", str(args.writer_interval), "--seconds", str(args.seconds + 5)),
            ]
            + (["--store-module", str(args.store_module)] if args.store_module else []),
            stdout=subprocess.PIPE,
            text=True,
        )
    latencies: list[list[float]] = [[] for _ in range(args.users)]
    errors: list[str] = []
    counts = [0] * args.users
    warm_started = time.perf_counter()
    selectors.by_meaning(org=organization, query=texts[0], filters=selectors.Filters(), limit=10)
    first_query_ms = (time.perf_counter() - warm_started) * 1000  # loads the shard: not in the figures
    stop = time.perf_counter() + args.seconds

    def user(number: int) -> None:
        rng = random.Random(number)
        while time.perf_counter() < stop:
            text = rng.choice(texts)
            begun = time.perf_counter()
            try:
                found = selectors.by_meaning(
                    org=organization,
                    query=text,
                    filters=selectors.Filters(),
                    limit=10,
                )
                assert len(found) == 10, len(found)
            except Exception as error:  # counted and reported
                errors.append(repr(error))
                continue
            latencies[number].append((time.perf_counter() - begun) * 1000)
            counts[number] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(args.users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [x for per_user in latencies for x in per_user]
    writes: dict[str, Any] = {}
    if writer is not None:
        writer.terminate()
        out, _ = writer.communicate(timeout=120)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        writes = lines[-1] if lines else {"error": "the writer reported nothing"}
    return {
        **_environment(),
        "store": args.store_module or "stratus/knowledge/store.py (this checkout)",
        "users": args.users,
        "seconds": round(elapsed, 1),
        "queries": len(every),
        "queries_per_second": round(len(every) / elapsed, 1),
        "latency_ms": _summary(every) if every else {},
        "per_user_queries": counts,
        "errors": len(errors),
        "first_errors": errors[:3],
        "first_query_ms_not_included": round(first_query_ms),
        "question_embedding_ms_not_included": round(per_question * 1000, 1),
        "rss_mb_at_end": round(_rss_mb()),
        "writer_interval_seconds": args.writer_interval,
        "writer": writes,
    }


def writer(args: argparse.Namespace) -> dict[str, Any]:
    """Another process (as the worker): upserts 10 points of organization 1 every --interval s."""
    import signal

    store_module: Any
    if args.store_module:
        store_module = _load_store(args.store_module)
    else:
        from stratus.knowledge import store as store_module
    store = store_module.EdgeStore(args.root / "qdrant", ALIAS)
    vectors = np.load(args.root / "passages.npy").tolist()
    now = datetime.datetime.now(datetime.UTC)
    timings: list[float] = []
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stop = time.perf_counter() + args.seconds
    number = 0
    while time.perf_counter() < stop and not stopped.is_set():
        passages = [
            Passage(
                1,
                "activity",
                10_000_000 + number * 10 + k,
                0,
                0,
                "new",
                "t",
                None,
                now,
                None,
                "/",
                vectors[k],
            )
            for k in range(10)
        ]
        begun = time.perf_counter()
        store.upsert(COLLECTION, passages)
        timings.append((time.perf_counter() - begun) * 1000)
        number += 1
        stopped.wait(args.interval)
    result = {"writes": len(timings), "write_ms": _summary(timings) if timings else {}}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build")
    build_parser.add_argument("--points", type=int, default=1_000_000)
    build_parser.add_argument("--batch", type=int, default=5_000)
    build_parser.add_argument("--big", type=float, default=0.91)
    shard_parser = commands.add_parser("shard")
    shard_parser.add_argument("--loads", type=int, default=3)
    shard_parser.add_argument("--rounds", type=int, default=3)
    users_parser = commands.add_parser("users")
    users_parser.add_argument("--users", type=int, default=8)
    users_parser.add_argument("--seconds", type=float, default=60)
    users_parser.add_argument("--store-module", type=Path)
    users_parser.add_argument("--writer-interval", type=float, default=0.0)
    writer_parser = commands.add_parser("writer")
    writer_parser.add_argument("--interval", type=float, default=5.0)
    writer_parser.add_argument("--seconds", type=float, default=60)
    writer_parser.add_argument("--store-module", type=Path)
    for sub in (build_parser, shard_parser, users_parser, writer_parser):
        sub.add_argument("--root", type=Path, required=True)
        sub.add_argument("--org", type=int, default=1)
        sub.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"build": build, "shard": shard, "users": users, "writer": writer}[args.command](args)
    if args.command == "writer":
        return
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
