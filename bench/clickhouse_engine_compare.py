"""Two versions of the ClickHouse reports engine on the same chDB store, interleaved, one caller.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_h6 \\
      nice uv run python bench/clickhouse_engine_compare.py --store /tmp/chbench --base 0a34c59 --runs 5

``--store`` is a folder filled by ``bench/clickhouse_engine.py`` (database ``bench``), or by
``analytics_backfill`` (``--database stratus --organization ID``). The engine
of ``--base`` (a git revision: ``stratus/reports/engines/clickhouse.py`` as it was there) and the
working tree's run each report in turn, ``--runs`` times after a first run whose answers must be
equal; prints the median ms of each. Filters: the 12 months up to 2026-12-05 of the organization.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--base", required=True, help="git revision of the engine to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database", default="bench", help="the store's database (analytics_backfill: stratus)"
    )
    parser.add_argument("--organization", type=int, default=1)
    parser.add_argument("reports", nargs="*")
    args = parser.parse_args()
    os.environ["ANALYTICS_URL"] = f"chdb://{args.store.resolve()}?database={args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")
    import django

    django.setup()
    from stratus.reports.contracts import REPORTS, ReportFilters
    from stratus.reports.engines.clickhouse import ClickHouseEngine

    source = subprocess.run(
        ["git", "show", f"{args.base}:stratus/reports/engines/clickhouse.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("clickhouse_base", file.name)
    assert spec is not None
    assert spec.loader is not None
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)
    filters = ReportFilters(
        organization_id=args.organization,
        as_of=datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC),
        date_from=datetime.date(2025, 12, 6),
        date_to=datetime.date(2026, 12, 5),
    )
    for name in args.reports or list(REPORTS):
        method = name.replace("-", "_")
        before = getattr(base.ClickHouseEngine(), method)
        after = getattr(ClickHouseEngine(), method)
        if before(filters) != after(filters):
            raise SystemExit(f"{name}: the two engines answer differently")
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(args.runs):
            for run, found in zip((before, after), times, strict=True):
                begun = time.perf_counter()
                run(filters)
                found.append((time.perf_counter() - begun) * 1000)
        medians = [statistics.median(found) for found in times]
        print(
            f"{name:10s} base {medians[0]:7.0f} ms  now {medians[1]:7.0f} ms"
            f"  (median of {args.runs}, equal answers)",
            flush=True,
        )
    Path(file.name).unlink()


if __name__ == "__main__":
    main()
