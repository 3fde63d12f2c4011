"""A fresh one-machine cluster for the conformance suite, and its results table."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.cluster import Cluster
from testsupport.processes import PROJECT_DIR, free_port

RESULTS: list[tuple[str, str, bool]] = []
# The 1-minute load average before the run and after each test: the machine may be shared.
LOADS: list[float] = []
STARTED = time.monotonic()

# The suite starts a whole cluster (minutes on a 2-core machine): it runs with `make conformance`
# (which sets CONFORMANCE_REPORT) or CONFORMANCE=1, not as part of `make test`.
if not (os.environ.get("CONFORMANCE_REPORT") or os.environ.get("CONFORMANCE")):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A fresh cluster (2 web, 2 ws) on free ports; CONFORMANCE_CLUSTER_DIR reuses a running one."""
    existing = os.environ.get("CONFORMANCE_CLUSTER_DIR")
    if existing:
        state = json.loads((Path(existing) / "cluster.json").read_text())
        web = len([n for n in state["replica_ports"] if n.startswith("web-")])
        ws = len([n for n in state["replica_ports"] if n.startswith("ws-")])
        reused = Cluster(directory=Path(existing), port=state["nginx_port"], web_replicas=web, ws_replicas=ws)
        reused.up()
        yield reused
        return
    # Not under pytest's private (0700) temporary folder: as root, the database server runs as
    # the `postgres` user, which must reach its data directory. CONFORMANCE_BASE: where to put it.
    directory = Path(
        tempfile.mkdtemp(prefix="stratus-conformance-", dir=os.environ.get("CONFORMANCE_BASE") or None)
    )
    directory.chmod(0o711)
    running = Cluster(directory=directory, port=free_port(), web_replicas=2, ws_replicas=2)
    try:
        running.up()
        yield running
    finally:
        running.down()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Tests append what they measured; the row is added with the test's outcome."""
    measured: list[str] = []
    yield measured
    failed = bool(getattr(request.node, "rep_call", None) and request.node.rep_call.failed)
    RESULTS.append((request.node.name, "; ".join(measured), not failed))
    LOADS.append(os.getloadavg()[0])


def pytest_sessionstart(session: pytest.Session) -> None:
    LOADS.append(os.getloadavg()[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RESULTS:
        return
    lines = ["| test | measured | result |", "|---|---|---|"]
    lines += [f"| {name} | {measured} | {'pass' if ok else 'FAIL'} |" for name, measured, ok in RESULTS]
    table = "\n".join(lines)
    print("\n\nConformance (one-machine cluster)\n" + table)
    target = os.environ.get("CONFORMANCE_REPORT")
    if target:
        path = PROJECT_DIR / target if not Path(target).is_absolute() else Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Conformance: the production topology on one machine\n\n"
            "Produced by `make conformance` (tests/cluster): a fresh cluster of real Nginx, 2 web and "
            "2 ws replicas, a worker, two beats, PostgreSQL, Redis and SeaweedFS.\n\n"
            + run_conditions(exitstatus)
            + "\n\n"
            + table
            + "\n"
        )


def run_conditions(exitstatus: int) -> str:
    cores = os.cpu_count() or 1
    one, five, fifteen = os.getloadavg()
    highest = max([*LOADS, one])
    command = f"`{' '.join(['pytest', *sys.argv[1:]])}`"
    if os.environ.get("MAKELEVEL"):
        # Variables given on make's command line are in MAKEFLAGS, after "--".
        flags = os.environ.get("MAKEFLAGS", "").split()
        overrides = flags[flags.index("--") + 1 :] if "--" in flags else []
        command = f"`{' '.join(['make conformance', *sorted(overrides)])}` (which runs {command})"
    lines = [
        f"Command: {command}; {len(RESULTS)} tests, exit status {exitstatus}, "
        f"{time.monotonic() - STARTED:.0f} s, finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Machine: {cores} cores; load average {LOADS[0]:.2f} (1 min) at the start, "
        f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) at the end, "
        f"highest 1-minute value after a test {highest:.2f}.",
    ]
    if highest > cores:
        lines.append(
            f"The load exceeded the {cores} cores during the run (the machine is shared with other "
            "work, and the cluster itself is a dozen processes): timings here are pessimistic."
        )
    return "\n".join(lines)
