"""Search quality on the labelled set: recall@10 and MRR@10 of a ranking ``rank(query) -> [ids]``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_h4 \\
        uv run python bench/search_eval/evaluate.py --mode words|meaning|both|fts [--split S] [--out F]

What is indexed for a passage is its record's name, a colon, and its text (a note alone does not
say whose it is; the search index keeps the record beside each chunk for the same reason).

Modes:
- ``words``, ``meaning`` and ``both``: the search engine of ``stratus.knowledge`` as
  ``GET /api/v1/search?mode=...`` runs it, through
  ``stratus.knowledge.evaluation.ranker(passages, mode) -> rank``: it stores the passages
  (``id``, ``text`` as above, ``record``) as notes of their companies in a throwaway
  organization of ``DATABASE_URL``, indexes them with the real indexer into a temporary Qdrant
  Edge shard and returns the ranking function (``selectors.search``).
- ``fts``: a keyword baseline outside the app: the passages in a temporary table with a
  ``tsvector`` (``english`` configuration) and a GIN index; a query is parsed with
  ``websearch_to_tsquery`` (every word required) and ranked by ``ts_rank``. ``--any-word`` relaxes
  the query to any of its words (the lexemes joined with ``|``), a stronger keyword baseline.

``--split tune|held-out|all`` (default ``all``): the questions of the tuning half, of the
held-out half or all of them; the halves split the topics (``tuning_topics``), and ``all`` gives
each half's figures too (``by_split``), from the same rankings. The fusion's parameters were
chosen on the tuning half only (``tune.py``).

recall@10: the share of a question's relevant passages found in the first ten results, averaged
over questions; MRR@10: the mean of 1/rank of the first relevant result (0 when none is in the
first ten). Figures are printed per question kind too (``company``: about one account;
``open``: across accounts).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
K = 10

Rank = Callable[[str], Sequence[str]]


def indexed_text(passage: dict[str, Any]) -> str:
    return f"{passage['record']['name']}: {passage['text']}"


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def words_ranker(passages: list[dict[str, Any]], *, any_word: bool) -> tuple[Rank, Callable[[], None]]:
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("--mode fts needs DATABASE_URL pointing at PostgreSQL (a temporary table is used)")
    connection = psycopg.connect(url, autocommit=True)
    cursor = connection.cursor()
    cursor.execute(
        "CREATE TEMPORARY TABLE search_eval_passage (id text PRIMARY KEY, body text NOT NULL, "
        "document tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body)) STORED)"
    )
    with cursor.copy("COPY search_eval_passage (id, body) FROM STDIN") as copy:
        for passage in passages:
            copy.write_row((passage["id"], indexed_text(passage)))
    cursor.execute("CREATE INDEX ON search_eval_passage USING gin (document)")
    cursor.execute("ANALYZE search_eval_passage")
    parsed = "websearch_to_tsquery('english'::regconfig, %(q)s)"
    if any_word:
        # The same lexemes, any of them: '&' (and phrase '<->') become '|'.
        parsed = f"CAST(replace(replace(CAST({parsed} AS text), '<->', '|'), '&', '|') AS tsquery)"
    sql = (
        f"SELECT p.id FROM search_eval_passage p, {parsed} AS query "
        "WHERE p.document @@ query ORDER BY ts_rank(p.document, query) DESC, p.id LIMIT %(k)s"
    )

    def rank(query: str) -> list[str]:
        cursor.execute(sql, {"q": query, "k": K})
        return [row[0] for row in cursor.fetchall()]

    return rank, connection.close


def engine_ranker(passages: list[dict[str, Any]], mode: str) -> tuple[Rank, Callable[[], None]]:
    sys.path.insert(0, str(HERE.parent.parent))  # the repository, when run as a script
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
    import django

    django.setup()
    try:
        importlib.import_module("stratus.knowledge")
    except ImportError as error:
        sys.exit(f"stratus.knowledge not available ({error}): --mode {mode} needs the search engine")
    try:
        evaluation = importlib.import_module("stratus.knowledge.evaluation")
        ranker = evaluation.ranker
    except (ImportError, AttributeError) as error:
        sys.exit(f"stratus.knowledge not available: it has no evaluation.ranker(passages, mode) ({error})")
    items = [{"id": p["id"], "text": indexed_text(p), "record": p["record"]} for p in passages]
    rank = ranker(items, mode)
    close = getattr(rank, "close", lambda: None)
    return rank, close


def tuning_topics(queries: Sequence[dict[str, Any]]) -> set[str]:
    """The topics of the tuning half: every other topic in alphabetical order (the 1st, 3rd, ...).

    The split is by topic, not by question, so that the held-out half asks about other subjects
    in other phrasings: the same question is asked of several accounts ("who complained about
    onboarding speed at Acme Logistics?", "... at Cobalt Health?"), and a split by question
    would put copies of one phrasing on both sides."""
    topics = sorted({str(q["topic"]) for q in queries})
    return set(topics[0::2])


def select(queries: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The questions of ``split``: ``all``, ``tune`` (see ``tuning_topics``) or ``held-out``."""
    if split == "all":
        return list(queries)
    tuning = tuning_topics(queries)
    if split not in SPLITS:
        raise ValueError(f"split is {split!r}; expected one of {SPLITS}")
    return [q for q in queries if (q["topic"] in tuning) == (split == "tune")]


SPLITS = ("all", "tune", "held-out")


def judge(query: dict[str, Any], ranked: Sequence[str]) -> tuple[float, float]:
    """recall@10 and reciprocal rank (0 beyond 10) of one question's ranking."""
    results = list(ranked)[:K]
    relevant = set(query["relevant"])
    recall = sum(1 for pid in results if pid in relevant) / len(relevant)
    first = next((i for i, pid in enumerate(results, start=1) if pid in relevant), None)
    return recall, (1 / first if first else 0.0)


def summary(queries: Sequence[dict[str, Any]], judged: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The figures of ``queries`` from their judgements (``judge``), overall and per kind."""

    def mean(pairs: list[tuple[float, float]]) -> dict[str, Any]:
        return {
            "queries": len(pairs),
            "recall_at_10": round(sum(r for r, _ in pairs) / len(pairs), 4),
            "mrr_at_10": round(sum(m for _, m in pairs) / len(pairs), 4),
        }

    per_kind: dict[str, list[tuple[float, float]]] = {}
    for query in queries:
        per_kind.setdefault(query["kind"], []).append(judged[query["id"]])
    return {
        **mean([judged[q["id"]] for q in queries]),
        "by_kind": {kind: mean(pairs) for kind, pairs in sorted(per_kind.items())},
        "queries_with_nothing_relevant": sum(1 for q in queries if judged[q["id"]][0] == 0),
    }


def score(queries: list[dict[str, Any]], rank: Rank, *, splits: Sequence[str] = ()) -> dict[str, Any]:
    """The figures of ``rank`` on ``queries``; with ``splits``, those of each split's questions
    among them too (``by_split``), from the same rankings."""
    started = time.perf_counter()
    judged = {query["id"]: judge(query, rank(query["text"])) for query in queries}
    elapsed = time.perf_counter() - started
    figures = {**summary(queries, judged), "seconds": round(elapsed, 2)}
    if splits:
        figures["by_split"] = {split: summary(select(queries, split), judged) for split in splits}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="recall@10 and MRR@10 on the labelled search set")
    parser.add_argument("--mode", choices=["words", "meaning", "both", "fts"], default="words")
    parser.add_argument("--any-word", action="store_true", help="fts: any query word instead of all")
    parser.add_argument("--dataset", type=Path, default=HERE / "dataset.json")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="the questions: all (the default; the figures of each half are given too), or the "
        "tuning or held-out half (by topic, see tuning_topics)",
    )
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)
    data = load(args.dataset)
    passages, queries = data["passages"], select(data["queries"], args.split)
    if args.mode == "fts":
        rank, close = words_ranker(passages, any_word=args.any_word)
    else:
        rank, close = engine_ranker(passages, args.mode)
    try:
        figures = score(queries, rank, splits=("tune", "held-out") if args.split == "all" else ())
    finally:
        close()
    result = {
        "mode": args.mode + (" (any word)" if args.any_word and args.mode == "fts" else ""),
        "dataset": {k: data["stats"][k] for k in ("passages", "queries", "seed")},
        "split": args.split,
        "command": "python bench/search_eval/evaluate.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        **figures,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
