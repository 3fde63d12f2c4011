"""Benchmarks of the browser app: server time under load, paint times in Chromium, bundle size.

    uv run python bench/web.py --label 1M --database-url postgres://postgres@127.0.0.1:5432/stratus_bench \\
        --redis-url redis://127.0.0.1:6379/1 --duration 20 --out bench/results/web-1M.json

Against a database made by ``bench/generate.py`` (organization ``bench``), served by gunicorn
with the production settings of ``bench/load.py`` (``STRATUS_ENV=production``, DEBUG off,
PostgreSQL, Redis, static files collected and served by WhiteNoise as in the image):

1. **Server time** (``wrk``, ``--connections`` concurrent users signed in by session cookie):
   ``list`` = ``GET /contacts`` (the full list page, 50 rows) and ``palette`` =
   ``GET /search?q=<term>`` (the command palette's fragment, as htmx asks for it), with the
   search terms of ``load.py`` (last names, "first last", 4-letter prefixes, e-mail local parts).
   By default each connection sends its next request as soon as the last one is answered (no
   think time: the saturation test); ``--think-ms`` makes each user pause 0.5x to 1.5x that long
   between requests, as people reading a page do.
2. **Largest contentful paint** in headless Chromium (Playwright on ``/usr/bin/chromium`` or
   ``CHROMIUM``) of the list (``/contacts``), a record (``/contacts/<id>``, a contact with
   activities) and the board (``/pipeline``): a fresh page per visit with the browser's cache
   warm (the bundle is fingerprinted and cached for a year), ``--visits`` visits each, read from
   a buffered ``PerformanceObserver('largest-contentful-paint')``. The board's open-deal count is
   reported with its figures.
3. **JavaScript on first load**: every script the list page loads, gzipped (level 9) from the
   collected static files, against 100 KB.
4. **Scrolling** the contact list: scrolls to the bottom until ``--scroll-rows`` rows have
   passed, recording the largest number of ``tr[data-row]`` rows in the DOM at any time.

Prints and writes (``--out``) one JSON document with the figures, the command and the load
average before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import emit  # noqa: E402
from bench.load import cpu_snapshot, free_port, wait_ready  # noqa: E402
from bench.load import server_env as api_server_env  # noqa: E402

SCENARIOS = ("list", "palette")
LCP_PAGES = ("list", "record", "board", "dashboard")


def loadavg() -> list[str]:
    with open("/proc/loadavg") as handle:
        return handle.read().split()[:3]


def server_env(args: argparse.Namespace, static_root: Path) -> dict[str, str]:
    env = api_server_env(args)
    env["STATIC_ROOT"] = str(static_root)
    return env


def prepare(args: argparse.Namespace, workdir: Path, static_root: Path) -> dict[str, Any]:
    """A signed-in session, the search terms and a record id (in-process Django)."""
    os.environ.update(server_env(args, static_root))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from stratus.accounts.models import Membership, Organization
    from stratus.crm.models import Activity, Contact, Deal, StageKind
    from stratus.web.context import SESSION_ORGANIZATION

    org = Organization.objects.get(slug="bench")
    owner = Membership.objects.filter(organization=org, role="owner").select_related("user").get()
    client = Client()
    client.force_login(owner.user)
    session = client.session
    session[SESSION_ORGANIZATION] = org.pk
    session.save()
    names = list(
        Contact.objects.filter(organization=org, pk__in=_sample_ids(connection, org.pk)).values_list(
            "first_name", "last_name", "email"
        )[:200]
    )
    terms: list[str] = []
    for first, last, email in names:
        terms += [last, f"{first} {last}", first[:4], email.split("@")[0]]
    record = (
        Activity.objects.filter(organization=org, contact__isnull=False)
        .order_by("-id")
        .values_list("contact_id", flat=True)
        .first()
    )
    contacts = Contact.objects.filter(organization=org).count()
    open_deals = Deal.objects.filter(
        organization=org, pipeline__is_default=True, stage__kind=StageKind.OPEN
    ).count()
    files = {
        "list": [("GET", "/contacts", "")],
        "palette": [("GET", "/search?q=" + urllib.parse.quote(t), "") for t in terms],
    }
    for name, lines in files.items():
        (workdir / f"{name}.tsv").write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in lines))
    connection.close()
    return {
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "session": session.session_key,
        "record": record,
        "contacts": contacts,
        "open_deals_on_board": open_deals,
        "search_terms": len(terms),
    }


def _sample_ids(connection: Any, org_id: int) -> list[int]:
    import random

    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM crm_contact WHERE organization_id = %s", [org_id])
        low, high = cursor.fetchone()
    return [rng.randint(low, high) for _ in range(600)]


def run_wrk(
    args: argparse.Namespace, base: str, cookie: str, workdir: Path, scenario: str, seconds: int
) -> dict:
    env = {**os.environ, "REQUESTS": str(workdir / f"{scenario}.tsv"), "THINK_MS": str(args.think_ms)}
    command = ["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-H", f"Cookie: {cookie}"]
    if scenario == "palette":
        command += ["-H", "HX-Request: true"]
    command += ["-s", str(ROOT / "bench" / "requests.lua"), base]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = [row for row in result.stdout.splitlines() if row.startswith("{")][-1]
    return dict(json.loads(line))


LCP_SCRIPT = """() => new Promise((resolve) => {
  let last = null;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) last = entry;
  }).observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    resolve({
      lcp_ms: last ? last.startTime : null,
      element: last && last.element ? last.element.tagName.toLowerCase() +
        (last.element.className ? '.' + String(last.element.className).split(' ')[0] : '') : null,
      fcp_ms: fcp ? fcp.startTime : null,
      ttfb_ms: nav.responseStart,
      dom_content_loaded_ms: nav.domContentLoadedEventEnd,
      load_ms: nav.loadEventEnd,
      bytes: nav.transferSize,
    });
  }, 300);
})"""


def dashboard_javascript(context: Any, url: str, static_root: Path) -> dict[str, Any]:
    """Every script a cold dashboard loads (app.js, then the charts' bundle), gzipped from disk."""
    page = context.new_page()
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(url, wait_until="load")
    page.wait_for_selector("canvas[data-bars]")
    page.close()
    js: list[dict[str, Any]] = []
    for script in scripts:
        data = (static_root / urllib.parse.urlparse(script).path.removeprefix("/static/")).read_bytes()
        js.append({"path": urllib.parse.urlparse(script).path, "gzip_bytes": len(gzip.compress(data, 9))})
    gzipped = sum(int(script["gzip_bytes"]) for script in js)
    return {"scripts": js, "gzip_bytes": gzipped, "gzip_kb": round(gzipped / 1024, 1)}


def charts_drawn_ms(page: Any) -> float:
    """When the dashboard's charts were drawn (ms since navigation start; dashboard.ts marks it)."""
    page.wait_for_function("performance.getEntriesByName('stratus:charts-drawn').length > 0")
    return round(float(page.evaluate("performance.getEntriesByName('stratus:charts-drawn')[0].startTime")), 1)


def browser_figures(args: argparse.Namespace, base: str, prepared: dict[str, Any], static_root: Path) -> dict:
    from playwright.sync_api import sync_playwright

    paths = {
        "list": "/contacts",
        "record": f"/contacts/{prepared['record']}",
        "board": "/pipeline",
        "dashboard": "/",
    }
    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": prepared["cookie_name"], "value": prepared["session"], "url": base}])
        # JavaScript on first load: every script of a cold list page, gzipped from disk.
        page = context.new_page()
        scripts: list[str] = []
        page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
        page.goto(base + paths["list"], wait_until="load")
        page.close()
        js: list[dict[str, Any]] = []
        for url in scripts:
            path = urllib.parse.urlparse(url).path
            data = (static_root / path.removeprefix("/static/")).read_bytes()
            js.append({"path": path, "bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9))})
        gzipped = sum(int(script["gzip_bytes"]) for script in js)
        out["javascript"] = {"scripts": js, "gzip_bytes": gzipped, "gzip_kb": round(gzipped / 1024, 1)}
        out["javascript_dashboard"] = dashboard_javascript(context, base + paths["dashboard"], static_root)
        # Largest contentful paint, warm cache, a fresh page per visit.
        lcp: dict[str, Any] = {}
        for name in LCP_PAGES:
            visits = []
            for _ in range(args.visits):
                page = context.new_page()
                page.goto(base + paths[name], wait_until="load")
                visits.append(page.evaluate(LCP_SCRIPT))
                if name == "dashboard":
                    visits[-1]["charts_drawn_ms"] = charts_drawn_ms(page)
                if name == "board" and len(visits) == 1:
                    lcp_cards = page.locator(".deal-card").count()
                page.close()
            values = sorted(v["lcp_ms"] for v in visits if v["lcp_ms"] is not None)
            lcp[name] = {
                "path": paths[name],
                "visits": visits,
                "lcp_median_ms": round(statistics.median(values), 1),
                "lcp_max_ms": round(max(values), 1),
                "load_median_ms": round(statistics.median(v["load_ms"] for v in visits), 1),
            }
        lcp["board"]["open_deals"] = prepared["open_deals_on_board"]
        lcp["board"]["cards_in_dom"] = lcp_cards
        out["lcp"] = lcp
        # Scrolling: rows in the DOM while scrolling through --scroll-rows rows.
        page = context.new_page()
        page.goto(base + paths["list"], wait_until="load")
        seen: set[str] = set()
        max_rows = 0
        started = time.monotonic()
        stalled = 0
        while len(seen) < args.scroll_rows and stalled < 50:
            ids = page.eval_on_selector_all("tr[data-row]", "rows => rows.map(r => r.dataset.row)")
            max_rows = max(max_rows, len(ids))
            before = len(seen)
            seen.update(ids)
            stalled = stalled + 1 if len(seen) == before else 0
            page.mouse.wheel(0, 4000)
            page.wait_for_timeout(100)
        ids = page.eval_on_selector_all("tr[data-row]", "rows => rows.map(r => r.dataset.row)")
        out["scroll"] = {
            "rows_passed": len(seen | set(ids)),
            "max_rows_in_dom": max(max_rows, len(ids)),
            "rows_in_dom_at_end": len(ids),
            "seconds": round(time.monotonic() - started, 1),
            "dom_nodes_at_end": page.evaluate("document.getElementsByTagName('*').length"),
        }
        page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--label", required=True, help="1k or 1M (goes into the result)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk scenario")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--think-ms",
        type=int,
        default=0,
        help="each user's pause between requests (random 0.5x to 1.5x; 0: none, the saturation test)",
    )
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="wrk scenarios ('' for none)")
    parser.add_argument("--visits", type=int, default=5, help="visits per page for LCP")
    parser.add_argument("--scroll-rows", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="stratus-webbench-"))
    static_root = workdir / "static"
    prepared = prepare(args, workdir, static_root)
    env = server_env(args, static_root)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "stratus.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    gunicorn += ["--workers", str(args.workers), "--threads", str(args.threads_per_worker)]
    gunicorn += ["--worker-class", "gthread" if args.threads_per_worker > 1 else "sync"]
    gunicorn += ["--backlog", "2048", "--log-level", "warning"]
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env)
    cookie = f"{prepared['cookie_name']}={prepared['session']}"
    results: dict[str, Any] = {}
    try:
        wait_ready(base)
        for scenario in [s for s in args.scenarios.split(",") if s]:
            if args.warmup:
                run_wrk(args, base, cookie, workdir, scenario, args.warmup)
            before = cpu_snapshot(server.pid, args.database_url)
            figures = run_wrk(args, base, cookie, workdir, scenario, args.duration)
            after = cpu_snapshot(server.pid, args.database_url)
            requests = max(figures["requests"], 1)
            # CPU time per request: what a request costs whatever else shares the machine.
            figures["cpu_ms_per_request"] = {
                part: round((after[part] - before[part]) * 1000 / requests, 2) for part in ("app", "db")
            }
            results[scenario] = figures
            print(
                f"{scenario:>8}: {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
                f"p95 {figures['p95_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
                f"non-2xx {figures['non_2xx']}  cpu/req app {figures['cpu_ms_per_request']['app']} ms "
                f"db {figures['cpu_ms_per_request']['db']} ms",
                flush=True,
            )
        load_between = loadavg()
        browser = None if args.no_browser else browser_figures(args, base, prepared, static_root)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "label": args.label,
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after_wrk": load_between,
            "loadavg_after": loadavg(),
        },
        "server": {"workers": args.workers, "threads": args.threads_per_worker},
        "load": {
            "connections": args.connections,
            "think_ms": args.think_ms,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        },
        "data": {k: prepared[k] for k in ("contacts", "open_deals_on_board", "search_terms", "record")},
        "server_time": results,
        "browser": browser,
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
