"""Reindex speed: ``manage.py search_reindex`` on a known number of chunks.

On a scratch PostgreSQL database (migrated) and a fresh ``DATA_DIR`` (the embedded default:
Qdrant Edge under ``DATA_DIR/qdrant``), it creates one organization (``create_org``) with
``--companies`` companies and ``--notes`` notes whose bodies are ``--passages-per-note``
passages of the evaluation set (bench/search_eval/dataset.json) in a shuffled order, so a
note is a few chunks of about SEARCH_CHUNK_CHARS (800) characters. It counts the chunks the
indexer will write (the same sources and chunker, no embedding), creates the current (empty)
collection as a running installation has one, then runs the real command

    manage.py search_reindex --no-progress

in a child process, timing it from start to exit (the new collection is filled beside the old
one, the alias is switched and the old one dropped). It then counts the points in the collection
the alias names and reports seconds, chunks per second, and the time per 100,000 chunks
*computed* from that rate (a run of K chunks, not a run of 100,000).

    uv run python bench/search_reindex.py --notes 1000 --passages-per-note 12 \\
        --out bench/results/DATE-search-reindex.json

Needs PostgreSQL (``--postgres``); no Redis, no worker (nothing is running while it rebuilds).
Prints JSON; ``--out`` writes it too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.children import CLEARED, child_env, emit, manage, uptime  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--passages-per-note", type=int, default=12)
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--parts-records", type=int, default=32, help="records of the batch timed by parts")
    parser.add_argument("--keep", action="store_true", help="keep the database and DATA_DIR")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    database = f"stratus_bench_reindex_{tag}"
    admin_url = f"{args.postgres}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    data_dir = Path(tempfile.mkdtemp(prefix=f"stratus-reindex-{tag}-"))
    env = {"DATABASE_URL": f"{args.postgres}/{database}", "DATA_DIR": str(data_dir), "LOG_LEVEL": "warning"}
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "create_org", "Reindex", "--owner", "reindex@stratus.example")

        for name in CLEARED:
            os.environ.pop(name, None)
        os.environ.update(env, DJANGO_SETTINGS_MODULE="stratus.settings")
        import django

        django.setup()
        from django.conf import settings

        from stratus.accounts.models import Organization
        from stratus.crm.models import Activity, ActivityKind, Company
        from stratus.knowledge import services, sources
        from stratus.knowledge.chunking import chunk
        from stratus.knowledge.embeddings import embedder
        from stratus.knowledge.models import OutboxEntry, RecordType
        from stratus.knowledge.store import store

        org = Organization.objects.get(name="Reindex")
        texts = [
            p["text"] for p in json.loads((ROOT / "bench/search_eval/dataset.json").read_text())["passages"]
        ]
        rng = random.Random(17)
        companies = Company.objects.bulk_create(
            Company(organization=org, name=f"Reindex customer {n}", industry="Software")
            for n in range(args.companies)
        )
        notes = []
        for number in range(args.notes):
            body = " ".join(rng.sample(texts, args.passages_per_note))
            notes.append(
                Activity(
                    organization=org,
                    company=companies[number % len(companies)],
                    kind=ActivityKind.NOTE,
                    subject=f"Call notes {number}",
                    body=body,
                )
            )
        Activity.objects.bulk_create(notes, batch_size=1000)
        OutboxEntry.objects.all().delete()  # left by the triggers for a worker; none runs here

        records = 0
        expected = 0
        characters = 0
        for record_type in RecordType.values:
            ids = list(sources.record_ids(org.pk, record_type))
            records += len(ids)
            for source in sources.load(org.pk, record_type, ids).values():
                for _, text in source.pieces:
                    pieces = chunk(
                        text, size=settings.SEARCH_CHUNK_CHARS, overlap=settings.SEARCH_CHUNK_OVERLAP
                    )
                    expected += len(pieces)
                    characters += sum(len(p.text) for p in pieces)

        vectors = store()
        before = services.current_collection(vectors)  # an installation has one; empty here
        load_before = uptime()
        command = [sys.executable, "manage.py", "search_reindex", "--no-progress"]
        begun = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=child_env(env), capture_output=True, text=True)
        seconds = time.perf_counter() - begun
        load_after = uptime()
        if done.returncode != 0:
            raise SystemExit(f"search_reindex failed:\n{done.stdout}\n{done.stderr}")
        after, building = vectors.collections()
        if after is None or after == before or building is not None:
            raise SystemExit(f"the alias did not move: {before=} {after=} {building=}")
        points = vectors.count(after, org.pk)

        # The parts of one batch as the rebuild's _fill does it (into the new collection again:
        # the same points), to say where the time goes: reading and embedding, then Edge writes.
        parts: dict[str, Any] = {}
        if args.parts_records:
            keys = [
                (org.pk, str(RecordType.ACTIVITY), pk)
                for pk in list(sources.record_ids(org.pk, "activity"))[: args.parts_records]
            ]
            begun = time.perf_counter()
            passages, gone = services.passages_of(keys)
            embedded = time.perf_counter() - begun
            begun = time.perf_counter()
            services.write(vectors, after, passages, gone)
            written = time.perf_counter() - begun
            chunks = sum(len(p) for p in passages.values())
            parts = {
                "records": len(keys),
                "chunks": chunks,
                "load_chunk_embed_seconds": round(embedded, 2),
                "edge_write_seconds": round(written, 2),
                "edge_write_note": "one upsert of the batch, then a delete per record (each opens the shard)",
            }
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "uv run python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "timed_command": "manage.py search_reindex --no-progress",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "uptime_before": load_before,
            "uptime_after": load_after,
            "vector_store": "Qdrant Edge under DATA_DIR/qdrant (embedded default)",
            "model": embedder().name,
            "embeddings_threads": settings.EMBEDDINGS_THREADS,
            "chunk_chars": settings.SEARCH_CHUNK_CHARS,
            "index_batch_records": settings.SEARCH_INDEX_BATCH,
            "records": records,
            "notes": args.notes,
            "companies": args.companies,
            "chunks_expected": expected,
            "chunks_in_new_collection": points,
            "mean_chunk_chars": round(characters / expected, 1) if expected else None,
            "seconds": round(seconds, 1),
            "chunks_per_second": round(points / seconds, 2),
            "seconds_per_100000_chunks_computed": round(100_000 * seconds / points) if points else None,
            "note": f"per-100,000 figure computed from the rate of this run of {points} chunks",
            "command_output": done.stdout.strip(),
            "one_batch_in_process_after_the_run": parts,
        }
        emit(report, args.out)
        return 0 if points == expected else 1
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept database {database} and {data_dir}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
