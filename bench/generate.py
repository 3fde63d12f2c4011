"""Generate a large CRM for one organization with COPY (the benchmark data set).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stratus_bench \\
        uv run python bench/generate.py --contacts 1000000 --companies 100000 \\
        --deals 200000 --activities 2000000

Creates (or reuses) the organization ``bench`` with an owner ``bench@stratus.example``,
20 members, the standard pipeline and a few custom fields through the services, then
bulk-loads companies, contacts (with tags), deals (with contacts) and activities with
``COPY``. With ``--history`` (the reports' data set) deals and activities are spread over
the two years up to now, every deal gets its stage history (the ``moved`` timeline entries
``deal_move`` writes: several moves over days to weeks, ending open, won or lost with a
reason and a close date) in one of two pipelines, and ``--campaigns`` campaigns of the last
year get recipients in every state (sent, failed, bounced with their suppression, skipped,
queued; opened, clicked, unsubscribed). Secondary indexes of the bulk-loaded tables are
dropped first and rebuilt afterwards (much faster than maintaining them row by row), then
the tables are analyzed.
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
from stratus.campaigns.models import Campaign, CampaignState, SuppressionReason  # noqa: E402
from stratus.crm import services  # noqa: E402
from stratus.crm.models import CustomField, Pipeline, Stage, StageKind, Tag  # noqa: E402

BULK_TABLES = (
    "crm_company",
    "crm_contact",
    "crm_contact_tags",
    "crm_deal",
    "crm_deal_contacts",
    "crm_activity",
    "crm_timelineentry",
    "campaigns_recipient",
    "campaigns_suppression",
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
HISTORY_SPAN_SECONDS = 2 * 365 * 24 * 3600  # --history: the two years up to now
LOST_REASONS = ("Price", "Timing", "Competitor", "No budget", "No decision", "Went silent")
# --history: a deal in an open stage moves on, is lost, or stays (chances per open stage)
ADVANCE, LOSE = 0.62, 0.2
STAY_MEAN_DAYS = (6.0, 10.0, 14.0, 9.0)  # mean days spent in each open stage (exponential)


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


RECIPIENT_COLUMNS = (
    "organization_id",
    "campaign_id",
    "contact_id",
    "email",
    "state",
    "attempts",
    "next_attempt_at",
    "sending_since",
    "last_error",
    "message_id",
    "sent_at",
    "opened_at",
    "open_count",
    "clicked_at",
    "click_count",
    "unsubscribed_at",
)


def load_campaigns(
    args: argparse.Namespace,
    rng: random.Random,
    org: Organization,
    owner: User,
    contact_ids: range,
    now: datetime.datetime,
    started: float,
) -> float:
    """--history: one campaign a month over the last year (the newest still sending, one
    paused), each with ``--recipients`` contacts in every state the sender leaves, and the
    suppressions its bounces and unsubscribes add."""
    suppressed: set[str] = set()
    recipients = suppressions = 0
    per_campaign = min(args.recipients, len(contact_ids))
    for i in range(args.campaigns):
        start = now - datetime.timedelta(days=30 * (args.campaigns - i), hours=rng.randint(0, 12))
        last = i == args.campaigns - 1
        state = CampaignState.SENDING if last else CampaignState.PAUSED if i == 3 else CampaignState.SENT
        campaign = Campaign.objects.create(
            organization=org,
            name=f"Newsletter {start:%Y-%m}",
            subject=f"News of {start:%B %Y}",
            body_text="Hello {{ first_name }}",
            from_email=OWNER_EMAIL,
            state=state,
            started_at=start,
            finished_at=None if state != CampaignState.SENT else start + datetime.timedelta(hours=6),
            recipients_total=per_campaign,
            created_by=owner,
            created_at=start - datetime.timedelta(days=2),
        )
        picked = sorted(rng.sample(contact_ids, per_campaign))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, email FROM crm_contact WHERE id = ANY(%s) ORDER BY id", [picked])
            emails = cursor.fetchall()
        rows: list[str] = []
        bounces: list[str] = []
        for contact_id, email in emails:
            roll = rng.random()
            sent = start + datetime.timedelta(seconds=rng.randint(0, 6 * 3600))
            if (last and roll < 0.3) or (state == CampaignState.PAUSED and roll < 0.15):
                rows.append(
                    f"{org.pk}\t{campaign.pk}\t{contact_id}\t{email}\tqueued\t0\t{ts(sent)}\t{NULL}\t\t\t"
                    f"{NULL}\t{NULL}\t0\t{NULL}\t0\t{NULL}\n"
                )
                continue
            if email in suppressed or roll > 0.99:
                rows.append(
                    f"{org.pk}\t{campaign.pk}\t{contact_id}\t{email}\tskipped\t0\t{ts(sent)}\t{NULL}\t"
                    f"suppressed\t\t{NULL}\t{NULL}\t0\t{NULL}\t0\t{NULL}\n"
                )
                continue
            if roll > 0.95:  # failed: bounced (suppressed) or refused for good
                bounced = roll > 0.97
                if bounced:
                    suppressed.add(email)
                    bounces.append(
                        f"{org.pk}\t{campaign.pk}\t{email}\t{SuppressionReason.BOUNCED}\t550 no such user\t"
                        f"{ts(sent + datetime.timedelta(minutes=5))}\n"
                    )
                rows.append(
                    f"{org.pk}\t{campaign.pk}\t{contact_id}\t{email}\tfailed\t3\t{ts(sent)}\t{NULL}\t"
                    f"{'bounced' if bounced else 'refused'}\t\t{NULL}\t{NULL}\t0\t{NULL}\t0\t{NULL}\n"
                )
                continue
            opened = sent + datetime.timedelta(hours=rng.expovariate(1 / 20)) if rng.random() < 0.35 else None
            clicked = (
                opened + datetime.timedelta(minutes=rng.randint(1, 300))
                if opened is not None and rng.random() < 0.25
                else None
            )
            unsubscribed = (
                (opened or sent) + datetime.timedelta(minutes=rng.randint(1, 600))
                if rng.random() < 0.005
                else None
            )
            if unsubscribed is not None:
                suppressed.add(email)
                bounces.append(
                    f"{org.pk}\t{campaign.pk}\t{email}\t{SuppressionReason.UNSUBSCRIBED}\t\t{ts(unsubscribed)}\n"
                )
            rows.append(
                f"{org.pk}\t{campaign.pk}\t{contact_id}\t{email}\tsent\t1\t{ts(sent)}\t{NULL}\t\t"
                f"<{campaign.pk}.{contact_id}@bench.example>\t{ts(sent)}\t"
                f"{ts(opened)}\t{int(opened is not None)}\t"
                f"{ts(clicked)}\t{int(clicked is not None)}\t{ts(unsubscribed)}\n"
            )
        recipients += copy_rows("campaigns_recipient", RECIPIENT_COLUMNS, iter(rows))
        suppressions += copy_rows(
            "campaigns_suppression",
            ("organization_id", "campaign_id", "email", "reason", "detail", "created_at"),
            iter(bounces),
        )
    return step(
        f"campaigns: {args.campaigns}, recipients: {recipients}, suppressions: {suppressions}", started
    )


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
    parser.add_argument(
        "--org", default=ORG_SLUG, help="the organization's slug (another: one more beside it)"
    )
    parser.add_argument("--reset", action="store_true", help="empty every CRM table of the database first")
    parser.add_argument(
        "--history",
        action="store_true",
        help="the reports' data set: two years up to now, stage history, won/lost reasons, "
        "a second pipeline, campaigns with recipients",
    )
    parser.add_argument(
        "--campaigns", type=int, default=12, help="with --history: campaigns of the last year"
    )
    parser.add_argument(
        "--recipients", type=int, default=40_000, help="with --history: recipients per campaign"
    )
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
                "crm_tag, campaigns_suppression, campaigns_campaign CASCADE"
            )
    started = step("migrate/reset", started)

    owner = User.objects.filter(email=OWNER_EMAIL).first() or User.objects.create_user(
        OWNER_EMAIL, "bench-password", full_name="Bench Owner"
    )
    org = Organization.objects.filter(slug=args.org).first() or organization_create(
        name="Bench Inc" if args.org == ORG_SLUG else f"{args.org.title()} Inc", owner=owner, slug=args.org
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
    pipelines = [(pipeline, stages)]
    if args.history:
        second = Pipeline.objects.filter(
            organization=org, name="Renewals"
        ).first() or services.pipeline_create(org=org, actor=owner, name="Renewals", is_default=False)
        pipelines.append((second, list(Stage.objects.filter(pipeline=second).order_by("position"))))
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
    span_start = now - datetime.timedelta(seconds=HISTORY_SPAN_SECONDS) if args.history else START
    span = HISTORY_SPAN_SECONDS if args.history else SPAN_SECONDS
    moves: list[str] = []  # --history: the timeline rows of the deals' stage moves

    def history_deal(n: int, pk: int) -> str:
        """A deal of --history and its moves: Lead (or a later stage), then on until it is won, lost,
        or still open now."""
        chosen, chain = pipelines[0] if rng.random() < 0.7 or len(pipelines) == 1 else pipelines[1]
        open_stages = [s for s in chain if s.kind == StageKind.OPEN]
        won = next(s for s in chain if s.kind == StageKind.WON)
        lost_stage = next(s for s in chain if s.kind == StageKind.LOST)
        created = span_start + datetime.timedelta(seconds=n * span // max(args.deals, 1))
        title = f"{rng.choice(WORDS)} {rng.choice(KINDS)} deal {n}"
        owner_id = rng.choice(member_ids)
        index = 0 if rng.random() < 0.8 else 1
        stage, moment, closed, reason = open_stages[index], created, None, ""
        while True:
            stay = datetime.timedelta(days=rng.expovariate(1 / STAY_MEAN_DAYS[min(index, 3)]))
            roll = rng.random()
            if roll >= ADVANCE + LOSE or moment + stay > now:
                break
            moment += stay
            if roll < LOSE:
                target, reason = lost_stage, rng.choice(LOST_REASONS)
            elif index + 1 < len(open_stages):
                index += 1
                target = open_stages[index]
            else:
                target = won
            change: dict[str, object] = {"stage": {"old": stage.pk, "new": target.pk}}
            if target.kind != StageKind.OPEN:
                closed = moment
                change["closed_at"] = {"old": None, "new": moment.isoformat()}
                if reason:
                    change["lost_reason"] = {"old": "", "new": reason}
            data = {"from_stage": stage.name, "to_stage": target.name, "kind": target.kind}
            moves.append(
                f"{org_id}\t{owner_id}\tmoved\tdeal\t{pk}\t{title}\t\t{NULL}\t"
                f"{json.dumps(change)}\t{json.dumps(data)}\t{ts(moment)}\n"
            )
            stage = target
            if target.kind != StageKind.OPEN:
                break
        close_date = (
            closed.date()
            if closed is not None
            else (moment + datetime.timedelta(days=rng.randint(5, 120))).date()
        )
        company = rng.choice(company_ids) if company_ids else None
        return (
            f"{pk}\t{org_id}\t{ts(created)}\t{ts(moment)}\t{title}\t"
            f"{rng.randint(1, 500) * 100}.00\t{rng.choice(CURRENCIES)}\t{chosen.pk}\t{stage.pk}\t"
            f"{nullable(company)}\t{owner_id}\t{close_date.isoformat()}\t{reason}\t{ts(moment)}\t"
            f"{ts(closed)}\t{{}}\n"
        )

    def deals() -> Iterator[str]:
        for n, pk in enumerate(deal_ids):
            if args.history:
                yield history_deal(n, pk)
                continue
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
    if moves:
        n = copy_rows(
            "crm_timelineentry",
            (
                "organization_id",
                "actor_id",
                "action",
                "target_type",
                "target_id",
                "target_label",
                "parent_type",
                "parent_id",
                "changes",
                "data",
                "created_at",
            ),
            iter(moves),
        )
        moves.clear()
        started = step(f"deal stage moves: {n}", started)
    n = copy_rows(
        "crm_deal_contacts",
        ("deal_id", "contact_id"),
        (f"{pk}\t{rng.choice(contact_ids)}\n" for pk in deal_ids) if contact_ids else iter(()),
    )
    started = step(f"deal contacts: {n}", started)

    activity_start = next_id("crm_activity")

    def activities() -> Iterator[str]:
        for n in range(args.activities):
            created = span_start + datetime.timedelta(seconds=n * span // max(args.activities, 1))
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
    if args.history and args.campaigns and contact_ids:
        started = load_campaigns(args, rng, org, owner, contact_ids, now, started)

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
    rebuild_indexes(indexes)
    started = step(f"rebuilt {len(indexes)} indexes", started)
    for table in BULK_TABLES:
        if table in ("crm_company", "crm_contact", "crm_deal", "crm_activity", "crm_timelineentry"):
            reset_sequence(table)
    with connection.cursor() as cursor:
        for table in BULK_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    started = step("sequences, vacuum analyze", started)
    # The summaries the reports read (deal stays and reach, activities by day, campaign counters): the
    # services and triggers that keep them did not run under the replica role above, so they are
    # rebuilt from the rows and timestamps written (of this organization: others keep theirs).
    call_command("reports_rebuild_summaries", organization=org.pk, verbosity=0)
    with connection.cursor() as cursor:
        for table in (
            "crm_dealstay",
            "crm_dealreach",
            "crm_activityday",
            "campaigns_campaignday",
            "campaigns_campaignstatecount",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    step("reports_rebuild_summaries", started)
    print(
        f"done in {time.monotonic() - began:.0f}s: "
        f"organization '{args.org}' (id {org.pk}), owner {OWNER_EMAIL}"
    )


if __name__ == "__main__":
    main()
