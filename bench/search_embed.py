"""Embedding throughput of the packaged model, and query latency on Qdrant Edge.

    nice uv run --frozen python -m bench.search_embed --chunks 512 --points 20000 \
        --out bench/results/DATE-search-embed.json

Chunks are CRM-like passages of about SEARCH_CHUNK_CHARS (800) characters, embedded in
batches of 32 as the indexer does. The query part writes ``--points`` random unit vectors
with organization payloads into a fresh Edge shard (one of 10 organizations each) and times
filtered top-10 queries one at a time (p50, p95). Needs no database.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
django.setup()

from django.conf import settings  # noqa: E402

from stratus.knowledge.embeddings import LocalEmbedder  # noqa: E402
from stratus.knowledge.store import EdgeStore, Passage, Query, close_shards  # noqa: E402

SENTENCES = [
    "Called the buyer about the renewal; they want a discount on the enterprise tier.",
    "The onboarding took longer than promised and the team lead is frustrated.",
    "Sent the revised proposal with the three-year pricing and the SLA appendix.",
    "Procurement asked for our security questionnaire and the SOC 2 report.",
    "Demo went well, the operations manager asked about the API rate limits.",
    "They are comparing us with two competitors and will decide by the end of the quarter.",
    "Invoice 2231 is overdue by thirty days; finance will follow up next week.",
    "The champion moved to another company; we need a new sponsor on their side.",
]


def passage(rng: random.Random, size: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.extend(rng.choice(SENTENCES).split())
    return " ".join(words)[:size]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(17)
    model = LocalEmbedder(settings.EMBEDDINGS_THREADS)
    texts = [passage(rng, settings.SEARCH_CHUNK_CHARS) for _ in range(args.chunks)]
    model.embed(texts[:32])  # warm-up
    started = time.perf_counter()
    for offset in range(0, len(texts), 32):
        model.embed(texts[offset : offset + 32])
    embed_seconds = time.perf_counter() - started
    query_started = time.perf_counter()
    for text in texts[:50]:
        model.embed([text[:120]])
    query_embed_ms = (time.perf_counter() - query_started) / 50 * 1000

    with tempfile.TemporaryDirectory() as root:
        store = EdgeStore(Path(root), "bench")
        store.create("c", 384)
        now = datetime.datetime.now(datetime.UTC)
        batch: list[Passage] = []
        write_started = time.perf_counter()
        for number in range(args.points):
            vector = [rng.gauss(0, 1) for _ in range(384)]
            organization_id = number % 10 + 1
            batch.append(
                Passage(organization_id, "activity", number, 0, 0, "x", "t", None, now, None, "/", vector)
            )
            if len(batch) == 1000:
                store.upsert("c", batch)
                batch = []
        store.upsert("c", batch)
        write_seconds = time.perf_counter() - write_started
        timings = []
        for _ in range(args.queries):
            vector = [rng.gauss(0, 1) for _ in range(384)]
            begun = time.perf_counter()
            store.search("c", Query(organization_id=rng.randint(1, 10), vector=vector, limit=10))
            timings.append((time.perf_counter() - begun) * 1000)
        close_shards()  # before the directory goes
    timings.sort()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "model": model.name,
        "chunk_chars": settings.SEARCH_CHUNK_CHARS,
        "chunks": args.chunks,
        "chunks_per_second": round(args.chunks / embed_seconds, 1),
        "query_embedding_ms": round(query_embed_ms, 1),
        "edge_points": args.points,
        "edge_write_points_per_second": round(args.points / write_seconds, 1),
        "edge_query_ms_p50": round(statistics.median(timings), 2),
        "edge_query_ms_p95": round(timings[int(len(timings) * 0.95) - 1], 2),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
