"""What the request metrics cost, in CPU per request, measured in one process (no server, no load).

    uv run python bench/metrics_cost.py --database-url postgres://postgres@127.0.0.1:5432/stratus_bench \\
        --redis-url redis://127.0.0.1:6379/1 --blocks 20 --requests 200 --out bench/results/metrics-cost.json

The end-to-end comparison (``bench/metrics_overhead.py``: gunicorn and wrk, with and without the
metrics) measures throughput, which on a shared 2-core machine varies by more than the 5% it
must resolve. This measures the same difference where it can be seen: two Django handlers in
this process, one with the shipped middleware and one without ``RequestMetricsMiddleware``,
each answering ``GET /api/v1/contacts`` (the contact list, a page of 50) through Django's test
client with an API token, as ``bench/load.py`` asks it. The metrics are in multiprocess mode,
as in a production worker (``PROMETHEUS_MULTIPROC_DIR`` is a fresh folder), so every request
writes its samples to the memory-mapped files a scrape reads. The two handlers alternate in
blocks of ``--requests`` (with, without, with, ...) so a change of the machine's speed affects
both alike; the figure is this process's CPU time per request (``time.process_time``), the
difference of the medians over blocks, and the share of the request it is.

Also times the middleware alone around a response that is already made (the upper bound of
what it adds to any request, route lookup included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import emit  # noqa: E402
from bench.load import server_env  # noqa: E402

REQUEST_METRICS = "stratus.platform.request_metrics.RequestMetricsMiddleware"
PATH = "/api/v1/contacts"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"))
    parser.add_argument("--blocks", type=int, default=20, help="blocks per variant (alternating)")
    parser.add_argument("--requests", type=int, default=200, help="requests per block")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    args.threads_per_worker = 1
    os.environ.update(server_env(args))
    # Multiprocess mode, as in a web worker: set before prometheus_client is imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stratus-metrics-cost-")

    import django

    django.setup()
    from django.conf import settings
    from django.http import HttpResponse
    from django.test import Client, RequestFactory
    from django.test.utils import override_settings
    from django.urls import resolve

    from stratus.accounts.models import Membership, Organization
    from stratus.accounts.services import token_create
    from stratus.platform.request_metrics import RequestMetricsMiddleware

    assert REQUEST_METRICS in settings.MIDDLEWARE, "the shipped middleware list has no request metrics"
    org = Organization.objects.get(slug="bench")
    owner = Membership.objects.filter(organization=org, role="owner").select_related("user").get()
    token = token_create(org=org, actor=owner.user, name="metrics-cost", role="member").secret
    headers = {"Authorization": f"Bearer {token}"}

    def client_for(middleware: list[str]) -> Client:
        """A test client whose handler loaded ``middleware`` (the chain is built on first use)."""
        client = Client(SERVER_NAME="127.0.0.1")
        with override_settings(MIDDLEWARE=middleware):
            for _ in range(5):
                assert client.get(PATH, headers=headers).status_code == 200
        return client

    variants = {
        "with": client_for(list(settings.MIDDLEWARE)),
        "without": client_for([name for name in settings.MIDDLEWARE if name != REQUEST_METRICS]),
    }
    per_block: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.blocks):
        for name, client in variants.items():
            started = time.process_time()
            for _ in range(args.requests):
                response = client.get(PATH, headers=headers)
                assert response.status_code == 200, response.status_code
            per_block[name].append((time.process_time() - started) * 1000 / args.requests)

    # The middleware alone: a response already made, the route resolved as Django does.
    request = RequestFactory().get(PATH)
    request.resolver_match = resolve(PATH)
    ready = HttpResponse()
    alone = RequestMetricsMiddleware(lambda _request: ready)
    calls = 20_000
    started = time.process_time()
    for _ in range(calls):
        alone(request)
    alone_us = (time.process_time() - started) * 1_000_000 / calls

    medians = {name: statistics.median(values) for name, values in per_block.items()}
    paired = [(w - wo) / wo * 100 for w, wo in zip(per_block["with"], per_block["without"], strict=True)]
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    report: dict[str, Any] = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "path": PATH,
        "blocks": args.blocks,
        "requests_per_block": args.requests,
        "cpu_ms_per_request": {
            name: {
                "median": round(medians[name], 3),
                "min": round(min(values), 3),
                "max": round(max(values), 3),
            }
            for name, values in per_block.items()
        },
        "overhead_percent_of_cpu": {
            "of_medians": round((medians["with"] - medians["without"]) / medians["without"] * 100, 2),
            "paired_blocks_median": round(statistics.median(paired), 2),
            "paired_blocks_min": round(min(paired), 2),
            "paired_blocks_max": round(max(paired), 2),
        },
        "middleware_alone_us_per_request": round(alone_us, 1),
        "middleware_alone_percent_of_request": round(alone_us / 1000 / medians["without"] * 100, 2),
        "loadavg_after": load,
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
