"""Time the browser's search pages in process (Django's test client, no HTTP server): the record
page with its lazily loaded "Related by meaning" panel, the panel's own request, the search page
by meaning, by words and both, and the palette's meaning fragment.

Loads the evaluation set's passages (bench/search_eval/dataset.json) as notes of companies of one
organization, indexes them into a Qdrant Edge directory of its own, then times each request
``--runs`` times (after one warm-up) and prints p50 and p95 in milliseconds as JSON.

    createdb -h 127.0.0.1 -U postgres stratus_searchbench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_searchbench \\
      uv run python bench/search_pages.py --runs 30 > bench/results/DATE-search-pages.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.QDRANT_PATH = Path(tempfile.mkdtemp(prefix="searchbench-")) / "qdrant"
    settings.QDRANT_URL = ""
    call_command("migrate", verbosity=0)

    from stratus.accounts.models import Organization, Role
    from stratus.crm.models import Activity, Company
    from stratus.knowledge import services
    from testsupport.factories import make_member_who_signs_in, make_organization

    data = json.loads((Path(__file__).parent / "search_eval" / "dataset.json").read_text())
    from stratus.accounts.models import User

    User.objects.filter(memberships__organization__name="searchbench").delete()
    Organization.objects.filter(name="searchbench").delete()
    org = make_organization("searchbench")
    user = make_member_who_signs_in(org, Role.MEMBER, "correct horse battery staple")
    companies: dict[str, Company] = {}
    for passage in data["passages"]:
        name = passage["record"]["name"]
        company = companies.get(name) or Company.objects.create(organization=org, name=name)
        companies[name] = company
        subject = passage.get("topic") or passage["source"]
        Activity.objects.create(
            organization=org, company=company, kind="note", subject=subject, body=passage["text"]
        )
    started = time.perf_counter()
    while services.index_pending():
        pass
    indexing = time.perf_counter() - started

    client = Client()
    client.force_login(user)
    company = next(iter(companies.values()))
    question = data["queries"][0]["text"]
    cases: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
        "record page": (f"/companies/{company.pk}", {}, {}),
        "related passages": (f"/companies/{company.pk}/related-passages", {}, {"HX-Request": "true"}),
        "search page, meaning": ("/search", {"q": question, "mode": "meaning"}, {}),
        "search page, words": ("/search", {"q": "renewal", "mode": "words"}, {}),
        "search page, both": ("/search", {"q": question, "mode": "both"}, {}),
        "palette, meaning": ("/search", {"q": question, "mode": "meaning"}, {"HX-Request": "true"}),
    }
    results: dict[str, Any] = {
        "passages": len(data["passages"]),
        "companies": len(companies),
        "indexing_seconds": round(indexing, 1),
        "runs": args.runs,
        "ms": {},
    }
    for label, (path, params, headers) in cases.items():
        assert client.get(path, params, headers=headers).status_code == 200, label
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            client.get(path, params, headers=headers)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        results["ms"][label] = {
            "p50": round(statistics.median(times), 1),
            "p95": round(times[int(len(times) * 0.95) - 1], 1),
        }
    User.objects.filter(memberships__organization=org).delete()
    org.delete()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
