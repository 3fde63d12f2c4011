"""Background-work benchmarks: CSV import, campaign sending, reminder sweep.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench_work \\
        uv run python bench/background.py import --rows 100000
    ... campaign --recipients 10000
    ... reminders --due 100000
    ... export --rows 100000

Each run empties the tables it uses in that (dedicated) database after migrating it, then
measures what a worker does, in this process: ``import`` runs ``import_run`` on a generated
CSV (10% duplicate emails, 2% invalid emails) stored in the local media folder; ``campaign``
starts a local SMTP server (``stratus.platform.smtp_sink``, another process), sends a
campaign to N contacts with no rate limit and counts the messages the server received;
``reminders`` bulk-creates N due reminders and times one sweep that fires them all;
``export`` bulk-creates N contacts and runs a list export (sorted by name, five columns) to the
local media folder, with the peak of Python allocations during the run (tracemalloc).
Prints one JSON line with the figures (and peak memory of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files import File  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from stratus.accounts.models import Organization, User  # noqa: E402
from stratus.accounts.services import organization_create  # noqa: E402
from stratus.campaigns import services as campaigns  # noqa: E402
from stratus.campaigns.models import Campaign, Recipient, Segment, Suppression  # noqa: E402
from stratus.crm.models import Activity, Company, Contact, Tag  # noqa: E402
from stratus.imports import services as imports  # noqa: E402
from stratus.imports.models import ImportJob  # noqa: E402
from stratus.reminders import services as reminders  # noqa: E402
from stratus.reminders.models import Notification, Reminder  # noqa: E402
from stratus.web.lists import exports  # noqa: E402
from stratus.web.models import ExportJob  # noqa: E402
from testsupport.servers import smtp_server  # noqa: E402


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_organization() -> tuple[Organization, User]:
    Notification.objects.all().delete()
    Reminder.objects.all().delete()
    Recipient.objects.all().delete()
    Campaign.objects.all().delete()
    Segment.objects.all().delete()
    Suppression.objects.all().delete()
    ImportJob.objects.all().delete()
    ExportJob.objects.all().delete()
    Activity.objects.all().delete()
    Contact.objects.all().delete()
    Company.objects.all().delete()
    Tag.objects.all().delete()
    Organization.objects.filter(slug="bench-work").delete()
    user = User.objects.filter(email="bench-work@stratus.example").first()
    if user is None:
        user = User.objects.create_user("bench-work@stratus.example")
    return organization_create(name="Bench work", owner=user, slug="bench-work"), user


def bench_import(rows: int) -> dict[str, object]:
    org, user = fresh_organization()
    rng = random.Random(7)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
        handle.write("First Name,Last Name,Email,Company,Tags,Phone\n")
        for i in range(rows):
            email = f"person{i}@example.com"
            if i and rng.random() < 0.10:
                email = f"person{rng.randrange(i)}@example.com"  # a duplicate of an earlier row
            elif rng.random() < 0.02:
                email = f"not-an-email-{i}"
            handle.write(f"First{i},Last{i},{email},Company {i % 500},tag{i % 7},+1 555 {i:07d}\n")
        path = Path(handle.name)
    size = path.stat().st_size
    with path.open("rb") as source:
        job = imports.import_create(
            org=org, actor=user, kind="contacts", upload=File(source, name="bench.csv")
        )
    memory_before = peak_memory_mb()
    started = time.perf_counter()
    state = imports.import_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    path.unlink()
    return {
        "benchmark": "import",
        "rows": rows,
        "file_bytes": size,
        "state": state,
        "created": job.created,
        "skipped": job.skipped,
        "failed": job.failed,
        "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed),
        "peak_memory_mb_before_run": round(memory_before),
        "peak_memory_mb_after_run": round(peak_memory_mb()),
        "chunk_size": settings.IMPORT_CHUNK_SIZE,
    }


def bench_campaign(recipients: int) -> dict[str, object]:
    org, user = fresh_organization()
    tag = Tag.objects.create(organization=org, name="bench")
    contacts = Contact.objects.bulk_create(
        (Contact(organization=org, first_name=f"P{i}", email=f"p{i}@example.com") for i in range(recipients)),
        batch_size=5000,
    )
    Contact.tags.through.objects.bulk_create(
        (Contact.tags.through(contact_id=c.pk, tag_id=tag.pk) for c in contacts), batch_size=5000
    )
    segment = campaigns.segment_create(org=org, actor=user, name="Bench", filters={"tags": ["bench"]})
    campaign = campaigns.campaign_create(
        org=org,
        actor=user,
        name="Bench",
        segment=segment,
        subject="Hello {{ contact.first_name }}",
        body_html='<p>Hi {{ contact.first_name }}, <a href="https://example.org/">read more</a></p>',
    )
    settings.CAMPAIGN_RATE_LIMIT = 0
    with tempfile.TemporaryDirectory() as folder, smtp_server(Path(folder) / "mail") as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        campaigns.campaign_schedule(org=org, campaign=campaign)
        started = time.perf_counter()
        campaigns.campaign_start(campaign_id=campaign.pk)
        materialised = time.perf_counter() - started
        while campaigns.campaign_send_batch(campaign_id=campaign.pk, limit=1000).more:
            pass
        elapsed = time.perf_counter() - started
        received = len(list(sink.directory.glob("*.eml")))
    return {
        "benchmark": "campaign",
        "recipients": recipients,
        "received_by_smtp_server": received,
        "seconds_to_create_recipients": round(materialised, 2),
        "seconds_total": round(elapsed, 2),
        "messages_per_second": round(received / elapsed, 1),
        "senders": 1,
    }


def bench_reminders(due: int) -> dict[str, object]:
    org, user = fresh_organization()
    contact = Contact.objects.create(organization=org, first_name="Ada", email="ada@example.com")
    activity = Activity.objects.create(organization=org, subject="Call", contact=contact, assignee=user)
    past = timezone.now()
    Reminder.objects.bulk_create(
        (Reminder(organization=org, activity=activity, user=user, remind_at=past) for _ in range(due)),
        batch_size=10000,
    )
    started = time.perf_counter()
    fired = reminders.reminders_fire_due()
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "reminders",
        "due": due,
        "fired": fired,
        "notifications": Notification.objects.count(),
        "seconds": round(elapsed, 2),
        "reminders_per_second": round(fired / elapsed),
    }


def bench_export(rows: int) -> dict[str, object]:
    org, user = fresh_organization()
    Contact.objects.bulk_create(
        (
            Contact(organization=org, first_name=f"P{i}", last_name=f"Doe{i % 97}", email=f"p{i}@example.com")
            for i in range(rows)
        ),
        batch_size=10000,
    )
    job = exports.export_job_create(
        org=org,
        actor=user,
        kind="contacts",
        ordering="name",
        columns=["name", "email", "owner", "tags", "created_at"],
    )
    tracemalloc.start()
    started = time.perf_counter()
    state = exports.export_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    job.refresh_from_db()
    return {
        "benchmark": "export",
        "rows": rows,
        "state": state,
        "written": job.done,
        "file_bytes": Path(settings.MEDIA_ROOT, job.key).stat().st_size,
        "seconds": round(elapsed, 2),
        "rows_per_second": round(job.done / elapsed),
        "python_alloc_peak_mb_during_run": round(peak / 2**20, 1),
        "peak_memory_mb": round(peak_memory_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("import").add_argument("--rows", type=int, default=100_000)
    sub.add_parser("campaign").add_argument("--recipients", type=int, default=10_000)
    sub.add_parser("reminders").add_argument("--due", type=int, default=100_000)
    sub.add_parser("export").add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if args.what == "import":
        result = bench_import(args.rows)
    elif args.what == "campaign":
        result = bench_campaign(args.recipients)
    elif args.what == "export":
        result = bench_export(args.rows)
    else:
        result = bench_reminders(args.due)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
