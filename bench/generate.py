"""Generate a large CRM for one organization with COPY (the benchmark data set).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench \\
        uv run python bench/generate.py --contacts 1000000 --companies 100000 \\
        --deals 200000 --activities 2000000

Creates (or reuses) the organization ``bench`` with an owner ``bench@stratus.example``,
20 members, the standard pipeline and a few custom fields through the services, then
bulk-loads companies, contacts (with tags), deals (with contacts) and activities with
``COPY``. Secondary indexes of the bulk-loaded tables are dropped first and rebuilt
afterwards (much faster than maintaining them row by row), then the tables are analyzed.
Foreign key triggers are skipped during COPY (``session_replication_role = replica``, which
needs a superuser such as the local ``postgres``): the generated rows are consistent by
construction. ``--reset`` first empties the CRM tables (and what references them) of the whole database:
use a dedicated database.
Prints what it loaded and how long each step took.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from stratus.accounts.models import Membership, Organization, Role, User  # noqa: E402
from stratus.accounts.services import membership_set, organization_create  # noqa: E402
from stratus.crm import services  # noqa: E402
from stratus.crm.models import CustomField, Pipeline, Stage, StageKind, Tag  # noqa: E402

BULK_TABLES = (
    "crm_company",
    "crm_contact",
    "crm_contact_tags",
    "crm_deal",
    "crm_deal_contacts",
    "crm_activity",
)
ORG_SLUG = "bench"
OWNER_EMAIL = "bench@stratus.example"
CHUNK = 50_000
NULL = "\\N"  # COPY text format


def _split(words: str) -> list[str]:
    return words.split()


FIRST = _split(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Margaret Donald "
    "Sandra Steven Ashley Paul Kimberly Andrew Emily Joshua Donna Kenneth Michelle Kevin Dorothy Brian Carol "
    "George Amanda Edward Melissa Ronald Deborah Timothy Stephanie Jason Rebecca Jeffrey Sharon Ryan Laura "
    "Jacob Cynthia Gary Kathleen Nicholas Amy Eric Shirley Jonathan Angela Stephen Helen Larry Anna Justin "
    "Brenda Scott Pamela Brandon Nicole Benjamin Emma Samuel Samantha Gregory Katherine Frank Christine "
    "Alexander Debra Raymond Rachel Patrick Catherine Jack Carolyn Dennis Janet Jerry Ruth Tyler Maria Aaron "
    "Heather Jose Diane Adam Virginia Henry Julie Nathan Joyce Douglas Victoria Zachary Olivia Peter Kelly "
    "Kyle Christina Walter Lauren Ethan Joan Jeremy Evelyn Harold Judith Keith Megan Christian Cheryl Roger "
    "Andrea Noah Hannah Gerald Martha Carl Jacqueline Terry Frances Sean Gloria Austin Ann Arthur Teresa "
    "Lawrence Kathryn Jesse Sara Dylan Janice Bryan Jean Joe Alice Jordan Madison Billy Doris Bruce Abigail "
    "Albert Julia Willie Judy Gabriel Grace Logan Denise Alan Amber Juan Marilyn Wayne Beverly Roy Danielle "
    "Ralph Theresa Randy Sophia Eugene Marie Vincent Diana Russell Brittany Elijah Natalie Louis Isabella "
    "Bobby Charlotte Philip Rose Johnny Alexis Ingrid Lars Sven Astrid Hiroshi Yuki Wei Mei Arjun Priya "
    "Mohammed Fatima Olga Dmitri Chiara Luca Sofia Mateo Camila Kwame Amara Chen Ananya"
)
LAST = _split(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins "
    "Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero "
    "Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant "
    "Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
    "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford "
    "Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
    "Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels "
    "Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold "
    "Pierce Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll "
    "Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Willis "
    "Carpenter Lawrence Sandoval Lindqvist Tanaka Yamamoto Wang Zhang Kowalski Novak Rossi Bianchi Muller "
    "Schneider Fischer Weber Dubois Laurent Okafor Mensah Haddad Ivanov Petrov Johansson Nilsson Larsen"
)
WORDS = _split(
    "Acme Apex Atlas Blue Bright Cedar Cloud Coastal Core Crown Delta Eagle Echo Evergreen First Fusion "
    "Global Golden Granite Green Harbor Horizon Iron Keystone Liberty Lunar Maple Meridian Metro Nova Oak "
    "Omega Orbit Pacific Peak Pine Pioneer Prime Quantum Red River Rock Sage Silver Solar Summit Sun Swift "
    "Terra Titan Union United Valley Vertex Vista West Wind Zen"
)
KINDS = _split(
    "Logistics Software Health Foods Energy Capital Systems Labs Partners Retail Media Motors Works"
)
SUFFIX = ("Inc", "LLC", "GmbH", "Ltd", "SA", "Group", "Co")
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy", "Media")
COUNTRIES = ("US", "DE", "GB", "FR", "NL", "SE", "ES", "IT", "CA", "JP", "BR", "IN")
TITLES = (
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "Head of Purchasing",
    "Engineer",
    "Buyer",
    "Analyst",
    "Manager",
    "",
)
SOURCES = ("Website", "Referral", "Event", "Outbound")
TAGS = ("vip", "lead", "customer", "partner", "churn-risk", "newsletter", "decision-maker", "champion")
CURRENCIES = ("USD", "EUR", "GBP")
ACTIVITY_KINDS = ("task", "call", "meeting", "note")
SUBJECTS = (
    "Follow up",
    "Intro call",
    "Send proposal",
    "Quarterly review",
    "Demo",
    "Contract draft",
    "Check in",
)
START = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
SPAN_SECONDS = 3 * 365 * 24 * 3600


def ts(value: datetime.datetime | None) -> str:
    return value.isoformat() if value is not None else "\\N"


def nullable(value: object) -> str:
    return "\\N" if value is None else str(value)


def copy_rows(table: str, columns: tuple[str, ...], rows: Iterator[str]) -> int:
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            block: list[str] = []
            for row in rows:
                block.append(row)
                count += 1
                if len(block) >= CHUNK:
                    copy.write("".join(block))
                    block.clear()
            if block:
                copy.write("".join(block))
    return count


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return int(cursor.fetchone()[0])


def reset_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}"
        )


def drop_secondary_indexes() -> list[tuple[str, str]]:
    """Drop the non-unique indexes of the bulk tables; returns (name, definition) to rebuild."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relname = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary
            """,
            [list(BULK_TABLES)],
        )
        indexes = [(name, definition) for name, definition in cursor.fetchall()]
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    return indexes


def rebuild_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        for _name, definition in indexes:
            cursor.execute(definition)


def step(label: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {label}: {now - started:.1f}s", flush=True)
    return now


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--activities", type=int, default=2_000_000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reset", action="store_true", help="empty every CRM table of the database first")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/generate.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    rng = random.Random(args.seed)
    began = started = time.monotonic()

    call_command("migrate", "--noinput", verbosity=0)
    if args.reset:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE crm_timelineentry, crm_activity, crm_deal_contacts, crm_deal, crm_contact_tags, "
                "crm_contact, crm_company_tags, crm_company, crm_stage, crm_pipeline, crm_customfield, "
                "crm_tag CASCADE"
            )
    started = step("migrate/reset", started)

    owner = User.objects.filter(email=OWNER_EMAIL).first() or User.objects.create_user(
        OWNER_EMAIL, "bench-password", full_name="Bench Owner"
    )
    org = Organization.objects.filter(slug=ORG_SLUG).first() or organization_create(
        name="Bench Inc", owner=owner, slug=ORG_SLUG
    )
    members = [owner]
    for i in range(args.members - 1):
        user = User.objects.filter(email=f"member{i}@bench.example").first() or User.objects.create_user(
            f"member{i}@bench.example", None, full_name=f"Member {i}"
        )
        if not Membership.objects.filter(organization=org, user=user).exists():
            membership_set(org=org, user=user, role=Role.MEMBER)
        members.append(user)
    member_ids = [m.pk for m in members]
    pipeline = Pipeline.objects.filter(organization=org, is_default=True).first() or services.pipeline_create(
        org=org, actor=owner, name="Sales", is_default=True
    )
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if not CustomField.objects.filter(organization=org, entity="contact", key="lead_source").exists():
        services.custom_field_create(
            org=org,
            actor=owner,
            entity="contact",
            key="lead_source",
            label="Lead source",
            field_type="choice",
            choices=list(SOURCES),
        )
    tag_ids = []
    for name in TAGS:
        tag = Tag.objects.filter(organization=org, name=name).first() or Tag.objects.create(
            organization=org, name=name
        )
        tag_ids.append(tag.pk)
    started = step("organization, members, pipeline", started)

    indexes = drop_secondary_indexes()
    with connection.cursor() as cursor:
        # The rows are generated consistent; skipping per-row foreign key triggers (superuser
        # only) makes COPY several times faster. Restored below.
        cursor.execute("SET session_replication_role = replica")
    started = step(f"dropped {len(indexes)} secondary indexes", started)

    org_id = org.pk
    company_start = next_id("crm_company")
    company_ids = range(company_start, company_start + args.companies)
    company_domains: list[str] = []

    def companies() -> Iterator[str]:
        for n, pk in enumerate(company_ids):
            name = f"{rng.choice(WORDS)} {rng.choice(KINDS)} {rng.choice(SUFFIX)} {n}"
            domain = f"{name.split()[0].lower()}{rng.choice(KINDS).lower()}{n}.example"
            company_domains.append(domain)
            created = START + datetime.timedelta(seconds=n * SPAN_SECONDS // max(args.companies, 1))
            custom = json.dumps({"employees": rng.randint(1, 5000)})
            yield (
                f"{pk}\t{org_id}\t{ts(created)}\t{ts(created)}\t{name}\t{domain}\thttps://{domain}\t\t"
                f"{rng.choice(INDUSTRIES)}\t\t{rng.choice(COUNTRIES)}\t\t{rng.choice(member_ids)}\t{custom}\n"
            )

    n = copy_rows(
        "crm_company",
        (
            "id",
            "organization_id",
            "created_at",
            "updated_at",
            "name",
            "domain",
            "website",
            "phone",
            "industry",
            "city",
            "country",
            "description",
            "owner_id",
            "custom_fields",
        ),
        companies(),
    )
    started = step(f"companies: {n}", started)

    contact_start = next_id("crm_contact")
    contact_ids = range(contact_start, contact_start + args.contacts)

    def contacts() -> Iterator[str]:
        for n, pk in enumerate(contact_ids):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company_index = rng.randrange(args.companies) if args.companies and rng.random() < 0.9 else None
            domain = company_domains[company_index] if company_index is not None else "mail.example"
            email = f"{first}.{last}.{n}@{domain}".lower()
            created = START + datetime.timedelta(
                seconds=n * SPAN_SECONDS // args.contacts, microseconds=n % 1000
            )
            phones = json.dumps([f"+1 555 {rng.randint(1000000, 9999999)}"])
            custom = json.dumps({"lead_source": rng.choice(SOURCES)})
            company = company_ids[company_index] if company_index is not None else None
            yield (
                f"{pk}\t{org_id}\t{ts(created)}\t{ts(created)}\t{first}\t{last}\t{email}\t{phones}\t"
                f"{rng.choice(TITLES)}\t{nullable(company)}\t{rng.choice(member_ids)}\t{custom}\n"
            )

    n = copy_rows(
        "crm_contact",
        (
            "id",
            "organization_id",
            "created_at",
            "updated_at",
            "first_name",
            "last_name",
            "email",
            "phones",
            "job_title",
            "company_id",
            "owner_id",
            "custom_fields",
        ),
        contacts(),
    )
    started = step(f"contacts: {n}", started)

    def contact_tags() -> Iterator[str]:
        for pk in contact_ids:
            if rng.random() < 0.2:
                for tag in rng.sample(tag_ids, rng.randint(1, 2)):
                    yield f"{pk}\t{tag}\n"

    n = copy_rows("crm_contact_tags", ("contact_id", "tag_id"), contact_tags())
    started = step(f"contact tags: {n}", started)

    deal_start = next_id("crm_deal")
    deal_ids = range(deal_start, deal_start + args.deals)
    now = datetime.datetime.now(datetime.UTC)

    def deals() -> Iterator[str]:
        for n, pk in enumerate(deal_ids):
            stage = rng.choice(stages)
            created = START + datetime.timedelta(seconds=n * SPAN_SECONDS // max(args.deals, 1))
            closed = (
                ts(created + datetime.timedelta(days=rng.randint(1, 90)))
                if stage.kind != StageKind.OPEN
                else "\\N"
            )
            lost = "Price" if stage.kind == StageKind.LOST else ""
            close_date = (created + datetime.timedelta(days=rng.randint(10, 180))).date().isoformat()
            company = rng.choice(company_ids) if company_ids else None
            yield (
                f"{pk}\t{org_id}\t{ts(created)}\t{ts(created)}\t"
                f"{rng.choice(WORDS)} {rng.choice(KINDS)} deal {n}\t"
                f"{rng.randint(1, 500) * 100}.00\t{rng.choice(CURRENCIES)}\t{pipeline.pk}\t{stage.pk}\t"
                f"{nullable(company)}\t{rng.choice(member_ids)}\t{close_date}\t{lost}\t{ts(created)}\t{closed}\t{{}}\n"
            )

    n = copy_rows(
        "crm_deal",
        (
            "id",
            "organization_id",
            "created_at",
            "updated_at",
            "title",
            "value",
            "currency",
            "pipeline_id",
            "stage_id",
            "company_id",
            "owner_id",
            "expected_close_date",
            "lost_reason",
            "stage_changed_at",
            "closed_at",
            "custom_fields",
        ),
        deals(),
    )
    started = step(f"deals: {n}", started)
    n = copy_rows(
        "crm_deal_contacts",
        ("deal_id", "contact_id"),
        (f"{pk}\t{rng.choice(contact_ids)}\n" for pk in deal_ids) if contact_ids else iter(()),
    )
    started = step(f"deal contacts: {n}", started)

    activity_start = next_id("crm_activity")

    def activities() -> Iterator[str]:
        for n in range(args.activities):
            created = START + datetime.timedelta(seconds=n * SPAN_SECONDS // max(args.activities, 1))
            due = created + datetime.timedelta(days=rng.randint(-5, 30))
            done = due < now and rng.random() < 0.8
            roll = rng.random()
            contact = rng.choice(contact_ids) if roll < 0.6 or not (deal_ids or company_ids) else None
            deal = rng.choice(deal_ids) if contact is None and roll < 0.9 and deal_ids else None
            company = rng.choice(company_ids) if contact is None and deal is None else None
            yield (
                f"{activity_start + n}\t{org_id}\t{ts(created)}\t{ts(created)}\t"
                f"{rng.choice(ACTIVITY_KINDS)}\t{rng.choice(SUBJECTS)}\t\t{ts(due)}\t{'t' if done else 'f'}\t"
                f"{ts(due) if done else NULL}\t"
                f"{rng.choice(member_ids)}\t{nullable(contact)}\t{nullable(company)}\t{nullable(deal)}\n"
            )

    n = copy_rows(
        "crm_activity",
        (
            "id",
            "organization_id",
            "created_at",
            "updated_at",
            "kind",
            "subject",
            "body",
            "due_at",
            "done",
            "done_at",
            "assignee_id",
            "contact_id",
            "company_id",
            "deal_id",
        ),
        activities(),
    )
    started = step(f"activities: {n}", started)

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
    rebuild_indexes(indexes)
    started = step(f"rebuilt {len(indexes)} indexes", started)
    for table in BULK_TABLES:
        if table in ("crm_company", "crm_contact", "crm_deal", "crm_activity"):
            reset_sequence(table)
    with connection.cursor() as cursor:
        for table in BULK_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    step("sequences, vacuum analyze", started)
    print(
        f"done in {time.monotonic() - began:.0f}s: "
        f"organization '{ORG_SLUG}' (id {org.pk}), owner {OWNER_EMAIL}"
    )


if __name__ == "__main__":
    main()
