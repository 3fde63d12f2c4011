"""The fusion's parameters for search ``both``, chosen on the tuning half of the labelled set only.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_h1 \\
        uv run python bench/search_eval/tune.py [--out ...json]

The passages are indexed once by the app (``stratus.knowledge.evaluation.ranker``, as
``evaluate.py`` does); each question of the tuning half (``evaluate.select(..., "tune")``: half
of the topics) is ranked once by meaning and once by words at the depth ``selectors.search``
uses, and every pair of the grid (k, meaning weight; words weighs 1) fuses them with the app's
own ``selectors.fuse``. The held-out half is neither ranked nor looked at here.

The choice, fixed before the grid was run: the highest recall@10 (the figure issue 17's target
is about); on a tie (to the 4th decimal), the higher MRR@10, then the lower meaning weight (the
closer to plain reciprocal rank fusion), then the higher k. The figures to report come from
``evaluate.py --mode both`` once the chosen values are the app's settings: ``selectors.search``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository, when run as a script

from bench.search_eval import evaluate  # noqa: E402

KS = (1, 5, 10, 20, 30, 45, 60, 100)
MEANING_WEIGHTS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 8.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="grid of the search fusion on the tuning half")
    parser.add_argument("--dataset", type=Path, default=evaluate.HERE / "dataset.json")
    parser.add_argument("--out", type=Path, help="also write the grid here (JSON)")
    args = parser.parse_args(argv)
    data = evaluate.load(args.dataset)
    queries = evaluate.select(data["queries"], "tune")
    started = time.perf_counter()
    ranker, close = evaluate.engine_ranker(data["passages"], "both")
    indexed = time.perf_counter() - started
    from stratus.knowledge import selectors

    try:
        rankings = {query["id"]: ranker.rankings(query["text"]) for query in queries}  # type: ignore[attr-defined]

        def copies(results: list[Any]) -> list[Any]:  # fuse merges sources into its inputs
            return [dataclasses.replace(r, sources=list(r.sources)) for r in results]

        def figures(rank: Any) -> dict[str, Any]:
            judged = {q["id"]: evaluate.judge(q, rank(q)) for q in queries}
            return evaluate.summary(queries, judged)

        references = {
            "meaning": figures(lambda q: ranker.identifiers(rankings[q["id"]][0])),  # type: ignore[attr-defined]
            "words": figures(lambda q: ranker.identifiers(rankings[q["id"]][1])),  # type: ignore[attr-defined]
        }
        grid = []
        for k, weight in itertools.product(KS, MEANING_WEIGHTS):

            def fused(q: dict[str, Any], k: float = k, weight: float = weight) -> list[str]:
                meaning, words = rankings[q["id"]]
                results = selectors.fuse(
                    [copies(meaning), copies(words)],
                    evaluate.K,
                    k=k,
                    weights={"meaning": weight, "words": 1.0},
                )
                return ranker.identifiers(results)  # type: ignore[attr-defined]

            row = figures(fused)
            grid.append(
                {
                    "k": k,
                    "meaning_weight": weight,
                    **{
                        key: row[key]
                        for key in ("recall_at_10", "mrr_at_10", "queries_with_nothing_relevant")
                    },
                }
            )
        named = sum(1 for meaning, words in rankings.values() if any(r.name_match for r in words))
    finally:
        close()
    best = max(grid, key=lambda r: (r["recall_at_10"], r["mrr_at_10"], -r["meaning_weight"], r["k"]))
    result = {
        "split": "tune",
        "topics": sorted(evaluate.tuning_topics(data["queries"])),
        "queries": len(queries),
        "command": "python bench/search_eval/tune.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rule": "highest recall@10; then MRR@10; then the lower meaning weight; then the higher k",
        "references": references,
        "questions_with_a_name_match_by_words": named,
        "chosen": {"k": best["k"], "meaning_weight": best["meaning_weight"]},
        "grid": grid,
        "seconds": {"index": round(indexed, 1), "total": round(time.perf_counter() - started, 1)},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
