"""Make the screenshots of the README and the user guide from the running app: `make screenshots`.

    python docs/screenshots.py [--out docs/images] [--keep]

Runs Stratus on the embedded default in a scratch folder of its own (a new SQLite database,
nothing shared with `make run`'s `var/`), creates an organization with realistic data through the
CRM services (companies, contacts, deals across every stage in two currencies, calls, meetings,
tasks, notes, documents, a reminder that fired; a CSV import with two bad rows through the
wizard), serves it with uvicorn as `make run` does, signs in as one of its members and saves
PNGs of the pages with Playwright driving Chromium (`/usr/bin/chromium`, or `CHROMIUM`). Each
run makes the same pictures; dates are relative to the day it runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

    from stratus.accounts.models import Organization, User
    from stratus.crm.models import Company, Contact, Deal, Pipeline

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "screenshots-only-1"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}

# Variables that would point the app at shared services or another mode: the screenshots always
# run on the embedded default, in their own folder.
NOT_INHERITED = (
    "DATABASE_URL",
    "REDIS_URL",
    "REALTIME_REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "STRATUS_ENV",
)
NOT_INHERITED_PREFIXES = ("AWS_", "DOCUMENTS_", "DJANGO_")

# --- the organization ------------------------------------------------------------------------

ORGANIZATION = "Brightwater Analytics"
# full name, email local part, role; the first signs in for the screenshots.
PEOPLE = (
    ("Maya Chen", "maya", "owner"),
    ("Tom Becker", "tom", "admin"),
    ("Priya Nair", "priya", "member"),
    ("Lucas Ferreira", "lucas", "member"),
)

# name, domain, industry, city, country, tags
COMPANIES: tuple[tuple[str, str, str, str, str, list[str]], ...] = (
    ("Helios Energy", "helios-energy.example", "Energy", "Denver", "US", ["customer", "enterprise"]),
    ("Northwind Traders", "northwind.example", "Wholesale", "Seattle", "US", ["customer"]),
    ("Kessler Maschinenbau", "kessler-mb.example", "Manufacturing", "Stuttgart", "DE", ["prospect"]),
    ("Bluebird Logistics", "bluebird-logistics.example", "Logistics", "Rotterdam", "NL", ["prospect"]),
    ("Fjord Seafood", "fjordseafood.example", "Food", "Bergen", "NO", ["customer"]),
    ("Cedar & Pine Architects", "cedarpine.example", "Architecture", "Portland", "US", []),
    ("Lumen Health", "lumenhealth.example", "Healthcare", "Boston", "US", ["prospect", "enterprise"]),
    ("Atlas Freight", "atlasfreight.example", "Logistics", "Lyon", "FR", ["partner"]),
    ("Verdant Farms", "verdantfarms.example", "Agriculture", "Fresno", "US", []),
    ("Orbit Media Group", "orbitmedia.example", "Media", "Berlin", "DE", ["customer"]),
    ("Quarry Lane Capital", "quarrylane.example", "Finance", "London", "GB", ["prospect"]),
    ("Sundial Hotels", "sundialhotels.example", "Hospitality", "Lisbon", "PT", ["customer"]),
    ("Granite Peak Outdoor", "granitepeak.example", "Retail", "Boulder", "US", []),
    ("Meridian Pharma", "meridianpharma.example", "Healthcare", "Basel", "CH", ["enterprise"]),
    ("Copperfield Bank", "copperfield.example", "Finance", "Chicago", "US", ["prospect"]),
    ("Nimbus Cloudworks", "nimbuscloud.example", "Software", "Dublin", "IE", ["partner"]),
    ("Riverbend Schools", "riverbend.example", "Education", "Austin", "US", []),
    ("Solano Wines", "solanowines.example", "Food", "Napa", "US", ["customer"]),
    ("Tidewater Marine", "tidewater.example", "Manufacturing", "Hamburg", "DE", []),
    ("Vantage Retail", "vantageretail.example", "Retail", "Milan", "IT", ["prospect"]),
    ("Wexford Insurance", "wexford.example", "Insurance", "Cork", "IE", []),
    ("Zephyr Aviation", "zephyraviation.example", "Aviation", "Toulouse", "FR", ["enterprise"]),
    ("Harbor Light Studios", "harborlight.example", "Media", "Vancouver", "CA", []),
    ("Ironclad Security", "ironclad.example", "Software", "Tel Aviv", "IL", ["customer"]),
    ("Juniper Dental", "juniperdental.example", "Healthcare", "Phoenix", "US", []),
    ("Koala Learning", "koalalearning.example", "Education", "Melbourne", "AU", ["prospect"]),
    ("Linden Property", "lindenproperty.example", "Real estate", "Vienna", "AT", []),
    ("Mosaic Foods", "mosaicfoods.example", "Food", "Toronto", "CA", ["customer"]),
    ("Oakridge Utilities", "oakridge.example", "Energy", "Atlanta", "US", ["enterprise"]),
    ("Pinnacle Sports", "pinnaclesports.example", "Retail", "Madrid", "ES", []),
)

FIRST_NAMES = (
    "Helena", "Marcus", "Sofia", "Daniel", "Amara", "Jonas", "Chloe", "Rafael", "Ingrid", "Samuel",
    "Leila", "Oliver", "Hannah", "Mateo", "Yuki", "Noah", "Elena", "Kwame", "Clara", "Viktor",
    "Aisha", "Henrik", "Grace", "Luca", "Nadia", "Ethan", "Freya", "Omar", "Zoe", "Pablo",
)  # fmt: skip
LAST_NAMES = (
    "Park", "Oduya", "Lindgren", "Moreau", "Hoffmann", "Santos", "Brennan", "Kowalski", "Tanaka",
    "Whitfield", "Haddad", "Novak", "Rossi", "Andersen", "García", "Mensah", "Dubois", "Fischer",
    "O'Connor", "Silva", "Nakamura", "Berg", "Costa", "Weber", "Patel",
)  # fmt: skip
TITLES = (
    "CFO", "CTO", "Head of Operations", "Procurement Manager", "IT Director", "VP Sales",
    "Office Manager", "Founder", "Facilities Lead", "Data Analyst", "Finance Controller", "COO",
)  # fmt: skip
CONTACT_TAGS: tuple[list[str], ...] = (
    ["decision-maker"],
    ["champion"],
    [],
    [],
    ["vip"],
    [],
    ["decision-maker", "vip"],
    [],
)
LEAD_SOURCES = ("Website", "Referral", "Event", "Outbound")
CUSTOM_FIELDS: tuple[dict[str, Any], ...] = (
    {
        "entity": "contact",
        "key": "lead_source",
        "label": "Lead source",
        "field_type": "choice",
        "choices": list(LEAD_SOURCES),
    },
    {"entity": "company", "key": "employees", "label": "Employees", "field_type": "number"},
    {"entity": "deal", "key": "renewal", "label": "Renewal", "field_type": "boolean"},
)

# title, value, currency, company index, stage, days to close, owner index
DEALS = (
    ("Helios solar fleet analytics", "150000", "USD", 0, "Negotiation", 12, 0),
    ("Northwind demand forecasting", "48500", "USD", 1, "Proposal", 30, 0),
    ("Kessler predictive maintenance", "126000", "EUR", 2, "Qualified", 55, 1),
    ("Bluebird route optimisation", "72000", "EUR", 3, "Lead", 90, 2),
    ("Fjord cold-chain dashboards", "39000", "EUR", 4, "Won", -8, 0),
    ("Cedar & Pine project reporting", "18000", "USD", 5, "Lead", 75, 3),
    ("Lumen patient-flow pilot", "96000", "USD", 6, "Proposal", 40, 2),
    ("Atlas Freight partner bundle", "25000", "EUR", 7, "Negotiation", 18, 1),
    ("Verdant yield models", "31000", "USD", 8, "Qualified", 60, 3),
    ("Orbit audience insights", "54000", "EUR", 9, "Won", -21, 1),
    ("Quarry Lane risk reporting", "143000", "USD", 10, "Lead", 120, 0),
    ("Sundial revenue management", "67000", "EUR", 11, "Proposal", 35, 2),
    ("Granite Peak store analytics", "22000", "USD", 12, "Lost", -14, 3),
    ("Meridian trial data platform", "210000", "EUR", 13, "Qualified", 80, 0),
    ("Copperfield churn models", "88000", "USD", 14, "Negotiation", 9, 1),
    ("Nimbus reseller agreement", "15000", "EUR", 15, "Won", -35, 2),
    ("Riverbend attendance insights", "12500", "USD", 16, "Lead", 100, 3),
    ("Solano vintage forecasting", "27000", "USD", 17, "Proposal", 28, 0),
    ("Tidewater sensor analytics", "76000", "EUR", 18, "Lead", 70, 1),
    ("Vantage basket analysis", "44000", "EUR", 19, "Lost", -40, 2),
    ("Zephyr fuel efficiency study", "158000", "EUR", 21, "Qualified", 65, 0),
    ("Ironclad SOC dashboards", "36000", "USD", 23, "Negotiation", 21, 3),
    ("Koala learning analytics", "19000", "USD", 25, "Lead", 85, 2),
    ("Mosaic supply planning", "58000", "USD", 27, "Proposal", 33, 1),
    ("Oakridge grid load forecasting", "132000", "USD", 28, "Lead", 110, 0),
    ("Helios storage expansion", "61000", "USD", 0, "Qualified", 70, 0),
)
LOST_REASONS = {
    "Granite Peak store analytics": "Budget frozen",
    "Vantage basket analysis": "Chose a competitor",
}

# The deal whose record page is shown, and the search typed into the palette.
FEATURED_DEAL = "Helios solar fleet analytics"
PALETTE_QUERY = "hel"


@dataclass
class Seeded:
    user_email: str
    featured_contact: int = 0
    featured_deal: int = 0
    notes: list[str] = field(default_factory=list)
    unsubscribe_path: str = ""  # a recipient's unsubscribe page (the campaign pictures)


def _environment(data_dir: Path) -> None:
    """Point this process (and the server it starts) at a fresh embedded default."""
    for name in list(os.environ):
        if name in NOT_INHERITED or name.startswith(NOT_INHERITED_PREFIXES):
            del os.environ[name]
    os.environ.update(
        DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="stratus.settings",
        LOG_LEVEL="warning",
        TZ="UTC",
    )
    sys.path.insert(0, str(ROOT))


def _members(org: Organization, owner: User) -> list[User]:
    from stratus.accounts.models import Role, User
    from stratus.accounts.services import membership_set
    from stratus.reminders.services import notification_preference_set

    people = [owner]
    for full_name, local, role in PEOPLE[1:]:
        user = User.objects.create_user(f"{local}@brightwater.example", PASSWORD, full_name=full_name)
        membership_set(org=org, user=user, role=Role(role))
        people.append(user)
    for person in people:
        notification_preference_set(actor=person, email_reminders=False)
    return people


def _companies(org: Organization, people: list[User]) -> list[Company]:
    from stratus.crm import services

    companies = []
    for index, (name, domain, industry, city, country, tags) in enumerate(COMPANIES):
        companies.append(
            services.company_create(
                org=org,
                actor=people[index % len(people)],
                name=name,
                domain=domain,
                website=f"https://{domain}",
                industry=industry,
                city=city,
                country=country,
                owner=people[index % len(people)],
                tags=tags,
                custom_fields={"employees": 40 + (index * 137) % 4000},
            )
        )
    return companies


def _contacts(
    org: Organization, people: list[User], companies: list[Company], rng: random.Random
) -> list[Contact]:
    from stratus.crm import services

    contacts: list[Contact] = []
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    names.insert(0, ("Helena", "Park"))  # the featured deal's contact; found by the palette's "hel"
    seen: set[tuple[str, str]] = set()
    for first, last in names:
        if len(contacts) == 72:
            break
        if (first, last) in seen:
            continue
        seen.add((first, last))
        company = companies[len(contacts) % len(companies)]
        local = f"{first}.{last}".lower().replace("'", "").replace("í", "i")
        owner = people[rng.randrange(len(people))]
        contacts.append(
            services.contact_create(
                org=org,
                actor=owner,
                first_name=first,
                last_name=last,
                email=f"{local}@{company.domain}",
                job_title=TITLES[len(contacts) % len(TITLES)],
                phones=[f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"],
                company=company,
                owner=owner,
                tags=CONTACT_TAGS[len(contacts) % len(CONTACT_TAGS)],
                custom_fields={"lead_source": LEAD_SOURCES[len(contacts) % len(LEAD_SOURCES)]},
            )
        )
    return contacts


def _deals(
    org: Organization,
    people: list[User],
    pipeline: Pipeline,
    companies: list[Company],
    contacts: list[Contact],
) -> list[Deal]:
    from django.utils import timezone

    from stratus.crm import services

    stages = {stage.name: stage for stage in pipeline.stages.all()}
    today = timezone.localdate()
    deals = []
    for title, value, currency, company_index, stage, days, owner_index in DEALS:
        company = companies[company_index]
        owner = people[owner_index]
        deal = services.deal_create(
            org=org,
            actor=owner,
            title=title,
            value=value,
            currency=currency,
            pipeline=pipeline,
            company=company,
            contacts=[c for c in contacts if c.company_id == company.pk][:2],
            owner=owner,
            expected_close_date=today + datetime.timedelta(days=days),
            custom_fields={"renewal": "expansion" in title or "agreement" in title},
        )
        if stage != "Lead":
            deal = services.deal_move(
                org=org, actor=owner, deal=deal, stage=stages[stage], lost_reason=LOST_REASONS.get(title)
            )
        deals.append(deal)
    return deals


def _featured_story(org: Organization, people: list[User], deal: Deal, pipeline: Pipeline) -> None:
    """The featured deal's history: a colleague's changes, calls, a meeting, notes, documents, tasks."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from stratus.crm import services
    from stratus.documents.services import document_upload

    maya, tom, priya, _lucas = people
    now = timezone.now()
    contact = deal.contacts.first()

    def activity(
        actor: User, kind: str, subject: str, due: datetime.timedelta | None = None, **given: Any
    ) -> None:
        """An activity ``actor`` logs on the deal (or on ``given``'s contact); one with a ``due``
        time from now is assigned to ``actor``. Only the arguments given reach the service."""
        if due is not None:
            given.update(assignee=actor, due_at=now + due)
        if "contact" not in given:
            given["deal"] = deal
        services.activity_create(org=org, actor=actor, kind=kind, subject=subject, **given)

    activity(
        maya,
        "call",
        "Discovery call with Helena",
        datetime.timedelta(days=-20),
        body="40 sites, inverter data every 5 minutes. Wants fleet-wide outage alerts before summer.",
        done=True,
    )
    services.deal_update(org=org, actor=tom, deal=deal, value="162000")
    activity(
        priya,
        "meeting",
        "Architecture workshop at Helios, Denver",
        datetime.timedelta(days=-9),
        body="IT wants single sign-on and EU data residency for the Hamburg subsidiary.",
        done=True,
    )
    for name, lines in (("Helios - proposal v2.pdf", 4200), ("Security questionnaire.pdf", 1500)):
        body = b"%PDF-1.4\n" + b"% Brightwater Analytics for Helios Energy\n" * lines + b"%%EOF\n"
        document_upload(
            org=org,
            actor=maya,
            target=deal,
            file=SimpleUploadedFile(name, body, content_type="application/pdf"),
        )
    services.deal_update(org=org, actor=maya, deal=deal, value="184000")
    activity(
        tom,
        "note",
        "Procurement wants a three-year term",
        body="Legal review of the DPA is done; they ask for a 5% discount for a three-year commitment.",
    )
    activity(maya, "task", "Send the revised order form to Helena", datetime.timedelta(hours=3))
    activity(maya, "call", "Negotiation call with Helena and procurement", datetime.timedelta(days=2))
    if contact is not None:
        activity(maya, "note", "Helena prefers e-mail before 10:00 MT", contact=contact)


def _activities(org: Organization, people: list[User], deals: list[Deal], rng: random.Random) -> None:
    """Calls, meetings and tasks across the deals: some overdue, some today, some later, some done."""
    from django.utils import timezone

    from stratus.crm import services

    now = timezone.now()
    subjects = (
        ("call", "Check-in call about {deal}"),
        ("task", "Send pricing for {deal}"),
        ("meeting", "Demo of {deal}"),
        ("task", "Follow up on {deal}"),
        ("call", "Budget call about {deal}"),
    )
    for index, deal in enumerate(deals):
        for step in range(2):
            kind, subject = subjects[(index + step) % len(subjects)]
            days = rng.choice((-6, -2, 0, 0, 1, 3, 7, 14))
            assignee = people[(index + step) % len(people)]
            if assignee == people[0] and index % 3 == 0:
                days = (-1, 0, 2)[step]
            services.activity_create(
                org=org,
                actor=assignee,
                kind=kind,
                subject=subject.format(deal=deal.title),
                deal=deal,
                assignee=assignee,
                due_at=now + datetime.timedelta(days=days, hours=rng.randrange(-3, 4)),
                done=days < -1 and step == 0,
            )


def _fired_reminder(org: Organization, user: User, deal: Deal) -> None:
    from django.utils import timezone

    from stratus.crm.models import Activity
    from stratus.reminders.services import reminder_create, reminders_fire_due

    activity = Activity.objects.filter(deal=deal, assignee=user, done=False).order_by("due_at").first()
    if activity is None:
        return
    now = timezone.now()
    reminder_create(org=org, actor=user, activity=activity, remind_at=now)
    reminders_fire_due(now=now + datetime.timedelta(seconds=1))


def _spread_history(org: Organization) -> None:
    """Spread the history over the last four weeks, in the order it was made (instead of 'just now')."""
    from django.utils import timezone

    from stratus.crm.models import Company, Contact, Deal, TimelineEntry
    from stratus.documents.models import Document

    ids = list(TimelineEntry.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    start = now - datetime.timedelta(days=28)
    step = (now - datetime.timedelta(hours=2) - start) / max(len(ids), 1)
    for position, pk in enumerate(ids):
        TimelineEntry.objects.filter(pk=pk).update(created_at=start + step * position)
    # A record was created when its timeline says so (lists sort by it and show it).
    models: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
    created = TimelineEntry.objects.filter(organization=org, action="created", target_type__in=models)
    for target_type, target_id, at in created.values_list("target_type", "target_id", "created_at"):
        models[target_type].objects.filter(organization=org, pk=target_id).update(created_at=at)
    uploads = TimelineEntry.objects.filter(organization=org, action="document.uploaded")
    for data, at in uploads.values_list("data", "created_at"):
        if data:
            Document.objects.filter(organization=org, pk=data["document_id"]).update(created_at=at)


def seed() -> Seeded:
    """The organization, its members and its CRM, all through the services."""
    from django.db import transaction

    from stratus.accounts.models import User
    from stratus.accounts.services import organization_start
    from stratus.crm import services
    from stratus.crm.models import Pipeline

    rng = random.Random(14)
    full_name, local, _role = PEOPLE[0]
    email = f"{local}@brightwater.example"
    with transaction.atomic():
        owner = User.objects.create_user(email, PASSWORD, full_name=full_name)
        org = organization_start(name=ORGANIZATION, owner=owner)
        people = _members(org, owner)
        for custom_field in CUSTOM_FIELDS:
            services.custom_field_create(org=org, actor=owner, **custom_field)
        pipeline = Pipeline.objects.get(organization=org)
        companies = _companies(org, people)
        contacts = _contacts(org, people, companies, rng)
        deals = _deals(org, people, pipeline, companies, contacts)
        featured = next(deal for deal in deals if deal.title == FEATURED_DEAL)
        _featured_story(org, people, featured, pipeline)
        _activities(org, people, deals, rng)
        _fired_reminder(org, owner, featured)
        _spread_history(org)
    contact = featured.contacts.order_by("pk").first()
    return Seeded(user_email=email, featured_contact=contact.pk if contact else 0, featured_deal=featured.pk)


# --- the server ------------------------------------------------------------------------------


def _campaigns(org_email: str) -> str:
    """A sent campaign with opens and clicks, and a draft: for the campaign pages' pictures."""
    from django.test import override_settings

    from stratus.accounts.models import User
    from stratus.campaigns import services, tokens
    from stratus.campaigns.models import Recipient

    owner = User.objects.get(email=org_email)
    org = owner.default_organization or owner.memberships.get().organization
    segment = services.segment_create(
        org=org, actor=owner, name="Decision makers", filters={"tag": "decision-maker"}
    )
    sent = services.campaign_create(
        org=org,
        actor=owner,
        name="Spring product update",
        segment=segment,
        subject="{{ contact.first_name }}, what is new this spring",
        body_text="Hello {{ contact.first_name|default:'there' }},\n\nHere is what is new at Brightwater.",
    )
    with override_settings(CAMPAIGN_RATE_LIMIT=0):
        services.campaign_schedule(org=org, campaign=sent)
        services.campaign_start(campaign_id=sent.pk)
        while services.campaign_send_batch(campaign_id=sent.pk).more:
            pass
    for n, recipient in enumerate(Recipient.objects.filter(campaign=sent).order_by("pk")):
        if n % 2 == 0:
            services.recipient_record_open(token=tokens.open_url(recipient.pk).rstrip("/").rsplit("/", 1)[1])
    services.campaign_create(
        org=org,
        actor=owner,
        name="Webinar invitation",
        segment=segment,
        subject="Join our webinar, {{ contact.first_name }}",
        body_text="Hello {{ contact.first_name }},\n\nWe would be glad to see you there.",
    )
    first = Recipient.objects.filter(campaign=sent).order_by("pk").first()
    return f"/c/u/{tokens.unsubscribe_token(first.pk)}/" if first else ""


def _shoot_campaigns(browser: Browser, url: str, seeded: Seeded, out: Path) -> None:
    desktop = browser.new_context(viewport=DESKTOP, color_scheme="light", device_scale_factor=1)
    page = desktop.new_page()
    _sign_in(page, url, seeded.user_email)
    page.goto(f"{url}/campaigns")
    _shoot(page, out / "campaigns-list.png")
    page.get_by_role("link", name="Spring product update").click()
    page.wait_for_selector("[data-testid=recipient-list]")
    _shoot(page, out / "campaign-report.png")
    page.goto(f"{url}/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Autumn offer")
    page.get_by_test_id("audience-new").check()
    page.get_by_label("Name of the new segment").fill("Champions")
    page.get_by_test_id("segment-builder").get_by_label("Has all tags").fill("champion")
    page.wait_for_selector("[data-testid=audience-count][data-recipients]")
    page.get_by_label("Subject").fill("An offer for you, {{ contact.first_name }}")
    _scroll_to(page, "[data-testid=audience]", above=80)
    _shoot(page, out / "campaign-compose.png")
    desktop.close()

    phone = browser.new_context(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    page = phone.new_page()
    if seeded.unsubscribe_path:
        page.goto(f"{url}{seeded.unsubscribe_path}")
        _shoot(page, out / "unsubscribe-phone.png")
    phone.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(log: Any) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the ASGI app (pages and live updates), as `make run` does."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "stratus.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):  # noqa: S310 (our own http server)
                return process, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"the server at {url} did not answer")


# --- the pictures ----------------------------------------------------------------------------


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('[data-testid="shell"]')


def _settle(page: Page) -> None:
    """Wait until htmx is done and the fonts are in, then let the last transitions end."""
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)


def _scroll_to(page: Page, selector: str, above: int) -> None:
    """Scroll so that ``selector`` starts ``above`` pixels below the top of the window."""
    page.locator(selector).first.evaluate(
        "(el, above) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - above)", above
    )


def _optimise(path: Path) -> None:
    """Make the PNG smaller with pngquant and optipng when the machine has them (apt-get install)."""
    if shutil.which("pngquant"):
        # 256 colours at most, only when the result still looks like the original.
        subprocess.run(
            ["pngquant", "--quality=85-100", "--speed=1", "--strip", "--skip-if-larger", "--force",
             "--output", str(path), str(path)],
            check=False,
        )  # fmt: skip
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=False)


def _shoot(page: Page, path: Path) -> None:
    _settle(page)
    page.mouse.move(0, 0)
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _optimise(path)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"  {shown} ({path.stat().st_size // 1024} KB)")


IMPORT_FILE = (
    "First Name,Last Name,E-mail,Job Title,Company,Lead Source\r\n"
    "Maya,Okafor,maya.okafor@tidewater.example,Head of Data,Tidewater Logistics,Referral\r\n"
    "Tomas,Lindqvist,tomas@nordkap.example,CTO,Nordkap Energy,Webinar\r\n"
    "Priya,Raman,priya.raman@example,Analyst,Helios Solar,Referral\r\n"
    "Jonas,Berg,jonas.berg@fjord.example,VP Operations,Fjord Freight,Event\r\n"
    "Elena,Costa,elena.costa@azul.example,Procurement lead,Azul Retail,Outbound\r\n"
    "Kofi,Mensah,kofi.mensah@savanna.example,Data engineer,Savanna Foods,Website\r\n"
)


def _shoot_import(page: Page, url: str, out: Path) -> None:
    """The import wizard: the mapping step with its preview, then the finished import's report."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from stratus.imports import services

    source = Path(tempfile.mkdtemp(prefix="stratus-import-")) / "conference-leads.csv"
    source.write_text(IMPORT_FILE, encoding="utf-8")
    page.goto(f"{url}/imports/new")
    page.get_by_test_id("import-file").set_input_files(str(source))
    page.wait_for_url("**/imports/new/map?file=*")
    page.wait_for_selector('[data-testid="import-preview"]')
    _scroll_to(page, ".import-dedup", above=16)
    _shoot(page, out / "import-mapping.png")
    page.get_by_test_id("import-start").click()
    page.wait_for_url(re.compile(r".*/imports/[0-9]+$"))
    # As the worker would, in a thread of its own (Playwright's loop runs in this one).
    with ThreadPoolExecutor(1) as worker:
        worker.submit(services.import_run, job_id=int(page.url.rsplit("/", 1)[1])).result()
    page.reload()
    page.wait_for_selector('[data-testid="import-errors"]')
    _shoot(page, out / "import-report.png")


def shoot(browser: Browser, url: str, seeded: Seeded, out: Path) -> None:
    desktop = browser.new_context(viewport=DESKTOP, color_scheme="light", device_scale_factor=1)
    page = desktop.new_page()
    _sign_in(page, url, seeded.user_email)
    page.wait_for_selector("canvas[data-bars]")  # the dashboard, the page after signing in
    _shoot(page, out / "dashboard.png")

    page.goto(f"{url}/contacts")
    _shoot(page, out / "contacts-list.png")

    page.goto(f"{url}/deals/{seeded.featured_deal}")
    _settle(page)
    # Related records, documents and the timeline, under the last lines of the deal's fields (the
    # note form folded, as one does to read the timeline).
    page.get_by_text("Add a note", exact=True).click()
    _scroll_to(page, ".record-columns", above=150)
    _shoot(page, out / "deal-record.png")

    page.goto(f"{url}/pipeline")
    _shoot(page, out / "pipeline-board.png")

    page.goto(f"{url}/pipeline")
    _settle(page)
    page.keyboard.press("Control+k")
    page.keyboard.type(PALETTE_QUERY, delay=40)
    page.wait_for_selector('#palette-results [role="option"][aria-selected="true"]')
    _shoot(page, out / "command-palette.png")
    page.keyboard.press("Escape")
    _shoot_import(page, url, out)
    desktop.close()

    dark = browser.new_context(viewport=DESKTOP, color_scheme="dark", device_scale_factor=1)
    page = dark.new_page()
    _sign_in(page, url, seeded.user_email)
    page.goto(f"{url}/deals")
    _shoot(page, out / "deals-list-dark.png")
    dark.close()

    phone = browser.new_context(viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True)
    page = phone.new_page()
    _sign_in(page, url, seeded.user_email)
    page.goto(f"{url}/contacts")
    _settle(page)
    _scroll_to(page, "#list-results", above=8)  # the rows, as cards
    _shoot(page, out / "contacts-phone.png")
    phone.close()
    _shoot_campaigns(browser, url, seeded, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (database, server log)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        raise SystemExit(f"No Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="stratus-screenshots-"))
    _environment(scratch)

    import django
    from django.core.management import call_command

    django.setup()
    print(f"Seeding a fresh embedded default in {scratch} ...")
    call_command("migrate", verbosity=0, interactive=False)
    seeded = seed()
    seeded.unsubscribe_path = _campaigns(seeded.user_email)

    from playwright.sync_api import sync_playwright

    with (scratch / "server.log").open("wb") as log:
        process, url = _serve(log)
        try:
            print(f"Serving at {url}; saving:")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
                )
                try:
                    shoot(browser, url, seeded, out)
                finally:
                    browser.close()
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    if args.keep:
        print(f"Kept {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
