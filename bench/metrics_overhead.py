"""What the request metrics cost: the contact list with and without them, in the same run.

    uv run python bench/metrics_overhead.py \\
        --database-url postgres://postgres@127.0.0.1:5432/stratus_bench \\
        --redis-url redis://127.0.0.1:6379/1 --rounds 5 --duration 30 \\
        --out bench/results/metrics-overhead.json

Each round starts the web process twice, as production does (``deploy/entrypoint.sh web``:
gunicorn with ``deploy/gunicorn.conf.py``, production settings, ``bench.settings``), and runs
``wrk`` on ``GET /api/v1/contacts`` (the contact list, a page of 50) against each in turn:

- ``with``: Stratus as it ships: ``RequestMetricsMiddleware`` counts and times every request,
  the workers write their samples to a fresh multiprocess folder (``METRICS_PORT`` set, so the
  entrypoint makes one, as in production) and the master serves their sum, scraped every
  ``--scrape-interval`` seconds during the measurement (Prometheus's interval in
  ``deploy/monitoring/prometheus.yml``);
- ``without``: ``bench.settings_without_metrics`` (the same minus that middleware), no
  ``METRICS_PORT``, so no multiprocess folder and no metrics server.

The variants alternate (with, without, with, without, ...) so a change in the machine's load
during the run affects both. Prints and writes (``--out``) throughput and p50/p95 latency per
run and per variant, the overhead (the share of throughput lost with the metrics) per round with
its mean, median and spread, CPU time per request of the server processes, the requests the
metrics counted against those ``wrk`` completed, and the load average before and after.
Needs ``wrk`` and a database made by ``bench/generate.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

VARIANTS = {
    "with": "bench.settings",
    "without": "bench.settings_without_metrics",
}
PATH = "/api/v1/contacts"  # the contact list, a page of 50
ROUTE = "api/v1/contacts"  # its route template, as the metrics label it
THRESHOLD_PERCENT = 5.0


def loadavg() -> list[float]:
    with open("/proc/loadavg") as handle:
        return [float(value) for value in handle.read().split()[:3]]


def server_cpu_seconds(pid: int) -> float:
    """The gunicorn master (it serves the metrics) and its workers."""
    return load._cpu_seconds(pid) + sum(load._cpu_seconds(child) for child in load._children(pid))


def counted_requests(metrics_port: int) -> float:
    """The contact-list requests a scrape of the metrics port reports, all workers summed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("stratus_http_requests_total{") and f'route="{ROUTE}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class Scraper(threading.Thread):
    """Scrapes the metrics port every ``interval`` seconds, as Prometheus would."""

    def __init__(self, port: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.stopped = threading.Event()
        self.scrapes = 0

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            counted_requests(self.port)
            self.scrapes += 1


def start_server(
    args: argparse.Namespace, variant: str, port: int, metrics_port: int, workdir: Path
) -> subprocess.Popen[bytes]:
    env = load.server_env(args)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": VARIANTS[variant],
            "PYTHON": sys.executable,
            "STARTUP_WAIT": "false",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_THREADS": str(args.threads_per_worker),
            "GUNICORN_ACCESS_LOG": "false",
            "GUNICORN_DRAIN_SECONDS": "0",
        }
    )
    if args.max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(args.max_requests)
    for name in ("METRICS_PORT", "METRICS_ADDRESS", "METRICS_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    if variant == "with":
        env.update(
            {
                "METRICS_PORT": str(metrics_port),
                "METRICS_ADDRESS": "127.0.0.1",
                "METRICS_DIR": str(workdir / "metrics"),
            }
        )
    log = (workdir / f"server-{port}.log").open("wb")
    return subprocess.Popen(
        ["sh", str(ROOT / "deploy" / "entrypoint.sh"), "web"], cwd=workdir, env=env, stdout=log, stderr=log
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=30)


def measure(args: argparse.Namespace, variant: str, token: str, workdir: Path) -> dict[str, Any]:
    port, metrics_port = load.free_port(), load.free_port()
    server = start_server(args, variant, port, metrics_port, workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        load.wait_ready(base)
        problem = load.probe(base, token, workdir, "contacts")
        if problem is not None:
            raise SystemExit(f"{variant}: the contact list does not answer: {problem}")
        if args.warmup:
            load.run_wrk(args, base, token, workdir, "contacts", args.warmup)
        scraper = Scraper(metrics_port, args.scrape_interval) if variant == "with" else None
        counted_before = counted_requests(metrics_port) if scraper else 0.0
        load_before = loadavg()
        cpu_before = server_cpu_seconds(server.pid)
        if scraper:
            scraper.start()
        figures = load.run_wrk(args, base, token, workdir, "contacts", args.duration)
        cpu_after = server_cpu_seconds(server.pid)
        if scraper:
            scraper.stopped.set()
            scraper.join()
            figures["scrapes"] = scraper.scrapes
            figures["metrics_counted"] = counted_requests(metrics_port) - counted_before
        figures["cpu_ms_per_request"] = round(
            (cpu_after - cpu_before) * 1000 / max(figures["requests"], 1), 3
        )
        figures["loadavg_before"], figures["loadavg_after"] = load_before, loadavg()
        return figures
    finally:
        stop_server(server)


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "stdev": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_variant = {
        variant: [run["figures"] for run in runs if run["variant"] == variant] for variant in VARIANTS
    }
    rounds = sorted({run["round"] for run in runs})
    overheads = []
    for number in rounds:
        pair = {run["variant"]: run["figures"] for run in runs if run["round"] == number}
        overheads.append(100 * (1 - pair["with"]["rps"] / pair["without"]["rps"]))
    variants = {
        variant: {
            "rps": spread([f["rps"] for f in figures]),
            "p50_ms": spread([f["p50_ms"] for f in figures]),
            "p95_ms": spread([f["p95_ms"] for f in figures]),
            "cpu_ms_per_request": spread([f["cpu_ms_per_request"] for f in figures]),
            "non_2xx": sum(f["non_2xx"] for f in figures),
            "socket_errors": sum(f["socket_errors"] for f in figures),
        }
        for variant, figures in by_variant.items()
    }
    overhead = spread(overheads)
    if len(overheads) < 3 or overhead["stdev"] >= THRESHOLD_PERCENT:
        verdict = "inconclusive: fewer than 3 rounds, or the overhead varies by more than the target"
    else:
        verdict = "met" if overhead["mean"] < THRESHOLD_PERCENT else "not met"
    cpu_with = variants["with"]["cpu_ms_per_request"]["mean"]
    cpu_without = variants["without"]["cpu_ms_per_request"]["mean"]
    return {
        "variants": variants,
        "overhead_percent": {"per_round": [round(value, 2) for value in overheads], **overhead},
        "cpu_overhead_percent": round(100 * (cpu_with / cpu_without - 1), 2) if cpu_without else None,
        "threshold_percent": THRESHOLD_PERCENT,
        "verdict": verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--rounds", type=int, default=5, help="pairs of runs (with, without)")
    parser.add_argument("--duration", type=int, default=30, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up per run (not counted)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn worker processes (2 x CPU + 1)")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="gunicorn threads (gthread if > 1)")
    parser.add_argument(
        "--max-requests",
        type=int,
        help="GUNICORN_MAX_REQUESTS (default: production's, 1000 with jitter; 0: never recycle workers)",
    )
    parser.add_argument("--scrape-interval", type=float, default=15.0, help="seconds between scrapes (with)")
    parser.add_argument("--label", default="", help="goes into the result, e.g. the data size")
    parser.add_argument("--out", type=Path, help="write the result as JSON")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian/Ubuntu: apt-get install wrk)")
    if args.rounds < 1 or args.duration < 1:
        raise SystemExit("--rounds and --duration must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="stratus-metrics-bench-"))
    started_load = loadavg()
    runs: list[dict[str, Any]] = []
    try:
        prepared = load.prepare(args, workdir)
        (workdir / "contacts.tsv").write_text(f"GET\t{PATH}\t\n")
        for number in range(1, args.rounds + 1):
            for variant in VARIANTS:
                figures = measure(args, variant, prepared["token"], workdir)
                runs.append({"round": number, "variant": variant, "figures": figures})
                counted = f"  metrics counted {figures['metrics_counted']:.0f}" if variant == "with" else ""
                print(
                    f"round {number} {variant:>7}: {figures['rps']:8.1f} req/s  "
                    f"p50 {figures['p50_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms  "
                    f"cpu/req {figures['cpu_ms_per_request']:6.2f} ms  "
                    f"wrk completed {figures['requests']}{counted}  non-2xx {figures['non_2xx']}  "
                    f"load {figures['loadavg_before'][0]:.2f} -> {figures['loadavg_after'][0]:.2f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(runs)
    report = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": started_load,
            "loadavg_after": loadavg(),
        },
        "server": {
            "workers": args.workers,
            "threads": args.threads_per_worker,
            "max_requests": args.max_requests,
        },
        "load": {
            "path": PATH,
            "connections": args.connections,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "scrape_interval_s": args.scrape_interval,
        },
        "data": {k: prepared[k] for k in ("contacts", "deals")},
        "summary": summary,
        "runs": runs,
    }
    overhead = summary["overhead_percent"]
    for variant, figures in summary["variants"].items():
        rps = figures["rps"]
        print(
            f"{variant:>7}: {rps['median']:8.1f} req/s (median; range {rps['min']} to {rps['max']})  "
            f"p50 {figures['p50_ms']['median']} ms  p95 {figures['p95_ms']['median']} ms  "
            f"cpu/req {figures['cpu_ms_per_request']['median']} ms"
        )
    print(
        f"overhead: {overhead['mean']}% of throughput (mean of {args.rounds} rounds; "
        f"median {overhead['median']}%, stdev {overhead['stdev']}, range {overhead['min']} to "
        f"{overhead['max']}); CPU per request {summary['cpu_overhead_percent']}%; "
        f"load average {started_load} -> {report['machine']['loadavg_after']}"
    )
    print(f"target: under {THRESHOLD_PERCENT}% of throughput: {summary['verdict']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
