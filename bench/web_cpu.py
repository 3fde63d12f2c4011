"""Application CPU per request of the list pages, measured in process (no server, no load).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench \\
        uv run python bench/generate.py --reset --contacts 1000 --companies 100 --deals 500 --activities 500
    uv run python bench/web_cpu.py --database-url postgres://postgres@127.0.0.1:5432/stratus_bench \\
        --redis-url redis://127.0.0.1:6379/1 --requests 200

Against a database made by ``bench/generate.py`` (organization ``bench``), with the production
settings of ``bench/load.py`` (DEBUG off, cached templates, collected static files): signs in as
the organization's owner with Django's test client and requests each page ``--requests`` times
after a few warm-up requests. For each it reports the CPU time of this process per request
(``time.process_time``: Django, the templates and the database driver, not PostgreSQL's own
CPU), the wall time, the number of SQL queries (counted on one extra request) and the size.

Pages: the full list pages ``/contacts``, ``/companies``, ``/deals`` and ``/activities``, and
the next keyset page of contacts as the infinite scroll asks for it (``/contacts/rows?cursor=``
with ``HX-Request``), and the command palette's search as it asks for results
(``/search?q=`` with ``HX-Request``; ``--search`` sets the term; its ``rows`` count the
palette's options). Prints one JSON document (and writes it with ``--out``).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import emit  # noqa: E402
from bench.load import server_env  # noqa: E402

PAGES = ("/contacts", "/companies", "/deals", "/activities")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(client: Any, path: str, requests: int, headers: dict[str, str]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(requests):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        response = client.get(path, headers=headers)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, headers=headers)
    return {
        "path": path,
        "requests": requests,
        "cpu_ms_mean": round(statistics.mean(cpu), 2),
        "cpu_ms_median": round(statistics.median(cpu), 2),
        "cpu_ms_p95": round(percentile(cpu, 0.95), 2),
        "wall_ms_median": round(statistics.median(wall), 2),
        "queries": len(queries.captured_queries),
        "rows": response.content.count(b"data-row="),
        "bytes": len(response.content),
    }


def profile(client: Any, path: str, requests: int) -> None:
    import cProfile
    import pstats

    headers = {"HX-Request": "true"} if path.startswith(("/search", "/lists/")) else {}
    for _ in range(5):
        assert client.get(path, headers=headers).status_code == 200, path
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(requests):
        client.get(path, headers=headers)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--label", default="")
    parser.add_argument("--search", default="river", help="the palette's search term (default: %(default)s)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="instead of measuring, profile --requests requests of PATH with cProfile and print the "
        "functions that take the most time (cumulative and own)",
    )
    parser.add_argument(
        "--static-root",
        type=Path,
        help="static files to reuse (collected there when it has no manifest); default: a new folder",
    )
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) is required")
    args.threads_per_worker = 1
    static_root = args.static_root or Path(tempfile.mkdtemp(prefix="stratus-web-cpu-"))
    os.environ.update(server_env(args))
    os.environ["STATIC_ROOT"] = str(static_root)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from stratus.accounts.models import Membership, Organization
    from stratus.web.context import SESSION_ORGANIZATION

    if not (static_root / "staticfiles.json").exists():
        call_command("collectstatic", "--noinput", verbosity=0)
    org = Organization.objects.get(slug="bench")
    owner = Membership.objects.filter(organization=org, role="owner").select_related("user").get()
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(owner.user)
    session = client.session
    session[SESSION_ORGANIZATION] = org.pk
    session.save()

    if args.profile:
        profile(client, args.profile, args.requests)
        return
    results = [measure(client, path, args.requests, {}) for path in PAGES]
    first = client.get("/contacts").content.decode()
    found = re.search(r'data-next-url="([^"]+)"', first)
    assert found, "the contact list has no next page: generate more than 50 contacts"
    results.append(measure(client, html.unescape(found.group(1)), args.requests, {"HX-Request": "true"}))
    palette = measure(
        client, f"/search?{urlencode({'q': args.search})}", args.requests, {"HX-Request": "true"}
    )
    palette["rows"] = client.get(
        f"/search?{urlencode({'q': args.search})}", headers={"HX-Request": "true"}
    ).content.count(b'role="option"')
    results.append(palette)
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    report = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "python": sys.version.split()[0],
        "loadavg_after": load,
        "pages": results,
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
