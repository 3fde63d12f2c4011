"""A CRM that feels real for the demo organization (``manage.py load_demo``, run by ``make run``).

A few hundred companies and contacts (plausible names, job titles, domains, phones, tags, custom
fields), deals in every stage of the default pipeline with values in two currencies and tags, owners among
several members, and activities (tasks overdue, due today and upcoming, calls, meetings, notes).
Everything is written through the CRM services, so records have their timeline: deals walk
through the stages one move at a time, and some records are edited after they were created.

Deterministic (seeded random generators, dates relative to today) and idempotent: records
are recognised by their name, e-mail, title or subject and created only when missing, so
running it again changes nothing.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.accounts.services import membership_set
from stratus.crm import services
from stratus.crm.models import Activity, Company, Contact, CustomField, Deal, Pipeline, Stage, StageKind

SEED = 14
PIPELINE_NAME = "Sales"
COMPANY_COUNT = 120
CONTACT_COUNT = 300
DEAL_COUNT = 90
ACTIVITY_COUNT = 160
CURRENCIES = ("USD", "EUR")

CUSTOM_FIELDS = (
    ("contact", "lead_source", "Lead source", "choice", ["Website", "Referral", "Event", "Outbound"]),
    ("company", "employees", "Employees", "number", None),
    ("deal", "renewal", "Renewal", "boolean", None),
)

# Colleagues of the demo user: e-mail local part, full name (they own records; they never sign in).
COLLEAGUES = (
    ("maya.chen", "Maya Chen"),
    ("liam.oconnor", "Liam O'Connor"),
    ("sofia.rossi", "Sofia Rossi"),
    ("noah.fischer", "Noah Fischer"),
)
COLLEAGUE_DOMAIN = "stratus.example"

COMPANY_FIRST = (
    "Northwind", "Bluefin", "Cedar", "Summit", "Harbor", "Silverline", "Brightpath", "Ironwood", "Keystone",
    "Lakeside", "Meridian", "Oakridge", "Pinnacle", "Redwood", "Sterling", "Tidewater", "Evergreen", "Falcon",
    "Granite", "Horizon", "Juniper", "Larkspur", "Maple", "Nimbus", "Orion", "Quarry", "Riverbend",
    "Sapphire",
    "Trailhead", "Vantage", "Willow", "Zenith", "Aurora", "Beacon", "Copperleaf", "Driftwood",
)  # fmt: skip
COMPANY_SECOND = (
    ("Logistics", "Logistics"), ("Health", "Healthcare"), ("Labs", "Software"),
    ("Foods", "Food & beverage"), ("Energy", "Energy"), ("Analytics", "Software"),
    ("Manufacturing", "Manufacturing"), ("Retail", "Retail"), ("Capital", "Financial services"),
    ("Robotics", "Manufacturing"), ("Media", "Media"), ("Systems", "Software"), ("Pharma", "Healthcare"),
    ("Outfitters", "Retail"), ("Freight", "Logistics"), ("Insurance", "Financial services"),
)  # fmt: skip
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "NL", "CA", "ES", "SE")
COMPANY_TAGS = ("customer", "prospect", "partner", "enterprise", "smb", "churn-risk")

FIRST_NAMES = (
    "Ada", "Ben", "Clara", "David", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Kira", "Leo", "Mina",
    "Nora", "Omar", "Priya", "Quentin", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wen", "Ximena", "Yusuf",
    "Zoe",
    "Aiko", "Bruno", "Chloe", "Diego", "Elena", "Felix", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Moreno", "Okafor", "Schmidt", "Keller", "Lindqvist", "Haddad", "Whitfield", "Martin", "Brennan", "Weber",
    "Nakamura", "Silva", "Novak", "Dubois", "Kowalski", "Andersen", "Costa", "Ivanova", "Murphy", "Patel",
    "Rossi", "Tanaka", "Van Dijk", "Yilmaz", "Zhang", "Garcia", "Johansson", "Laurent", "Mensah", "Osei",
)  # fmt: skip
JOB_TITLES = (
    "CEO", "CFO", "CTO", "COO", "Head of Purchasing", "Operations Manager", "Procurement Director",
    "IT Lead", "VP Sales", "Marketing Manager", "Office Manager", "Plant Manager", "Buyer",
    "Finance Controller", "Head of Customer Success", "Product Manager", "Founder", "Logistics Coordinator",
)  # fmt: skip
CONTACT_TAGS = ("decision-maker", "champion", "vip", "newsletter", "technical", "budget-holder")
# Deals share the organization's tags with contacts and companies ("enterprise" is on both).
DEAL_TAGS = ("hot", "strategic", "upsell", "at-risk", "enterprise")
LEAD_SOURCES = ("Website", "Referral", "Event", "Outbound")
PHONE_PREFIX = {
    "US": "+1 555",
    "CA": "+1 555",
    "GB": "+44 20 7946",
    "DE": "+49 30 901820",
    "FR": "+33 1 99 00",
}

DEAL_KINDS = (
    "annual licence", "pilot", "platform renewal", "expansion", "support contract", "onboarding package",
    "data migration", "integration project", "hardware refresh", "training days",
)  # fmt: skip
LOST_REASONS = ("Chose a competitor", "No budget this year", "Built it in-house", "Went silent")

TASKS = (
    "Send the proposal to {who}", "Follow up with {who}", "Prepare the contract draft for {company}",
    "Book a demo with {who}", "Check payment terms with {company}", "Send the case study to {who}",
)  # fmt: skip
CALLS = ("Discovery call with {who}", "Pricing call with {who}", "Check-in call with {who}")
MEETINGS = ("Workshop at {company}", "Quarterly review with {company}", "On-site visit at {company}")
NOTES = (
    "{company} wants SSO before signing",
    "{who} prefers e-mail over calls",
    "{company} renews their budget in the next quarter",
    "{who} asked for references in their industry",
)  # fmt: skip


@dataclass(frozen=True)
class CrmDemo:
    created: int


def _members(org: Organization, user: User) -> list[User]:
    """The demo user and their colleagues (created once, without a usable password)."""
    members = [user]
    for local, name in COLLEAGUES:
        email = f"{local}@{COLLEAGUE_DOMAIN}"
        colleague = User.objects.filter(email=email).first()
        if colleague is None:
            colleague = User.objects.create_user(email, None, full_name=name)
        membership_set(org=org, user=colleague, role=Role.MEMBER)
        members.append(colleague)
    return members


def _unique(rng: random.Random, taken: set[str], make: Any) -> str:
    while True:
        candidate = make(rng)
        if candidate not in taken:
            taken.add(candidate)
            return str(candidate)


def _phone(rng: random.Random, country: str) -> str:
    return f"{PHONE_PREFIX.get(country, '+31 20 555')} {rng.randint(1000, 9999)}"


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@transaction.atomic
def crm_demo_load(*, organization: Organization, user: User) -> CrmDemo:
    """Create what is missing of the demo CRM in ``organization``; returns how many records were added."""
    rng = random.Random(SEED)
    created = 0
    org = organization
    members = _members(org, user)
    pipeline = Pipeline.objects.filter(organization=org, name=PIPELINE_NAME).first()
    if pipeline is None:
        pipeline = services.pipeline_create(org=org, actor=user, name=PIPELINE_NAME, is_default=True)
        created += 1
    stages: list[Stage] = list(pipeline.stages.order_by("position"))
    for entity, key, label, field_type, choices in CUSTOM_FIELDS:
        if not CustomField.objects.filter(organization=org, entity=entity, key=key).exists():
            services.custom_field_create(
                org=org,
                actor=user,
                entity=entity,
                key=key,
                label=label,
                field_type=field_type,
                choices=choices,
            )
            created += 1

    # Companies (the random draws happen whether or not a record exists: same data every run).
    existing_companies = {c.name: c for c in Company.objects.filter(organization=org)}
    names: set[str] = set()
    companies: list[Company] = []
    for _index in range(COMPANY_COUNT):
        name = _unique(rng, names, lambda r: f"{r.choice(COMPANY_FIRST)} {r.choice(COMPANY_SECOND)[0]}")
        industry = dict(COMPANY_SECOND)[name.split(" ", 1)[1]]
        country = rng.choice(COUNTRIES)
        employees = rng.choice((12, 35, 80, 150, 420, 900, 2500, 12000))
        tags = rng.sample(COMPANY_TAGS, rng.choice((0, 1, 1, 2)))
        owner = rng.choice(members)
        company = existing_companies.get(name)
        if company is None:
            domain = f"{_slug(name)}.example"
            company = services.company_create(
                org=org,
                actor=owner,
                name=name,
                domain=domain,
                website=f"https://www.{domain}",
                industry=industry,
                country=country,
                owner=owner,
                tags=tags,
                custom_fields={"employees": employees},
            )
            created += 1
        companies.append(company)

    existing_contacts = {c.email.lower(): c for c in Contact.objects.filter(organization=org) if c.email}
    people: set[str] = set()
    contacts: list[Contact] = []
    for _index in range(CONTACT_COUNT):
        full = _unique(rng, people, lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}")
        first, last = full.split(" ", 1)
        company = rng.choice(companies)
        title = rng.choice(JOB_TITLES)
        tags = rng.sample(CONTACT_TAGS, rng.choice((0, 0, 1, 1, 2)))
        source = rng.choice(LEAD_SOURCES)
        owner = rng.choice(members)
        phone = _phone(rng, company.country)
        email = f"{_slug(first)}.{_slug(last)}@{company.domain}"
        new_title = rng.choice(JOB_TITLES) if rng.random() < 0.15 else None
        editor = rng.choice(members)
        contact = existing_contacts.get(email)
        if contact is None:
            contact = services.contact_create(
                org=org,
                actor=owner,
                first_name=first,
                last_name=last,
                email=email,
                job_title=title,
                phones=[phone],
                company=company,
                owner=owner,
                tags=tags,
                custom_fields={"lead_source": source},
            )
            if new_title and new_title != title:  # a promotion: a change in the timeline
                contact = services.contact_update(org=org, actor=editor, contact=contact, job_title=new_title)
            created += 1
        contacts.append(contact)

    # Deals: every stage of the pipeline, walked there one move at a time.
    existing_deals = {d.title: d for d in Deal.objects.filter(organization=org)}
    today = timezone.localdate()
    titles: set[str] = set()
    deals: list[Deal] = []
    # Deal tags come from a generator of their own, so the other draws stay what they were.
    tag_rng = random.Random(SEED + 1)
    for index in range(DEAL_COUNT):
        stage = stages[index % len(stages)]
        company = rng.choice(companies)
        title = _unique(rng, titles, lambda r, c=company: f"{c.name} {r.choice(DEAL_KINDS)}")
        value = Decimal(rng.randrange(20, 2400) * 50)
        currency = rng.choice(CURRENCIES)
        owner = rng.choice(members)
        people_there = [c for c in contacts if c.company_id == company.pk][:2]
        closing = rng.randint(-60, -1) if stage.kind != StageKind.OPEN else rng.randint(5, 120)
        lost_reason = rng.choice(LOST_REASONS)
        detour = rng.randint(0, 3)  # open stages a won or lost deal went through first
        tags = tag_rng.sample(DEAL_TAGS, tag_rng.choice((0, 1, 1, 2)))
        deal = existing_deals.get(title)
        if deal is None:
            deal = services.deal_create(
                org=org,
                actor=owner,
                title=title,
                value=value,
                currency=currency,
                pipeline=pipeline,
                stage=stages[0],
                company=company,
                contacts=people_there,
                owner=owner,
                expected_close_date=today + datetime.timedelta(days=closing),
                tags=tags,
                custom_fields={"renewal": "renewal" in title},
            )
            path = stages[1 : stages.index(stage) + 1]
            if stage.kind != StageKind.OPEN:
                path = [*stages[1 : 1 + detour], stage]
            for step in path:
                if step.pk != deal.stage_id:
                    deal = services.deal_move(
                        org=org,
                        actor=owner,
                        deal=deal,
                        stage=step,
                        lost_reason=lost_reason if step.kind == StageKind.LOST else None,
                    )
            created += 1
        deals.append(deal)

    # Activities: tasks overdue, due today and upcoming (some done), calls, meetings and notes.
    existing_subjects = set(Activity.objects.filter(organization=org).values_list("subject", flat=True))
    subjects: set[str] = set()
    now = timezone.now()
    for index in range(ACTIVITY_COUNT):
        contact = rng.choice(contacts)
        company = next((c for c in companies if c.pk == contact.company_id), rng.choice(companies))
        kind = ("task", "task", "task", "call", "meeting", "note")[index % 6]
        pattern = {"task": TASKS, "call": CALLS, "meeting": MEETINGS, "note": NOTES}[kind]
        words = {"who": f"{contact.first_name} {contact.last_name}", "company": company.name}
        subject = _unique(rng, subjects, lambda r, p=pattern, w=words: r.choice(p).format(**w))
        # Tasks: a third overdue, a third today, a third upcoming; calls and meetings on both sides.
        hours = {0: -rng.randint(24, 240), 1: rng.randint(1, 8), 2: rng.randint(30, 500)}[index % 3]
        if kind in ("call", "meeting"):
            hours = rng.randint(-400, 400)
        due_at = None if kind == "note" else now + datetime.timedelta(hours=hours)
        done = kind != "note" and hours < 0 and rng.random() < (0.3 if kind == "task" else 0.8)
        target: dict[str, Any] = {"contact": contact}
        if kind == "meeting":
            target = {"company": company}
        elif index % 5 == 0:
            target = {"deal": rng.choice(deals)}
        assignee = rng.choice(members)
        if subject in existing_subjects:
            continue
        services.activity_create(
            org=org,
            actor=assignee,
            kind=kind,
            subject=subject,
            body="" if kind != "note" else f"{subject}. Noted after the last conversation.",
            assignee=assignee,
            due_at=due_at,
            done=done,
            **target,
        )
        created += 1
    return CrmDemo(created=created)
