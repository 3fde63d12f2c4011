"""A small, realistic CRM for the demo organization (``manage.py load_demo``).

Records are created through the services (so they have timelines) and only when missing:
running it again changes nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import services
from stratus.crm.models import Activity, Company, Contact, CustomField, Deal, Pipeline

PIPELINE_NAME = "Sales"

CUSTOM_FIELDS = (
    ("contact", "lead_source", "Lead source", "choice", ["Website", "Referral", "Event", "Outbound"]),
    ("company", "employees", "Employees", "number", None),
    ("deal", "renewal", "Renewal", "boolean", None),
)

COMPANIES = (
    ("Northwind Traders", "northwind.example", "Wholesale", "US", 420, ["customer"]),
    ("Globex", "globex.example", "Manufacturing", "DE", 1800, ["prospect"]),
    ("Initech", "initech.example", "Software", "US", 250, ["customer", "enterprise"]),
    ("Umbrella Health", "umbrella.example", "Healthcare", "GB", 900, ["prospect"]),
    ("Stark Logistics", "starklogistics.example", "Logistics", "FR", 75, ["partner"]),
)

# first, last, email local part, company index, title, tags, lead source
CONTACTS: tuple[tuple[str, str, str, int, str, list[str], str], ...] = (
    ("Ada", "Moreno", "ada.moreno", 0, "Head of Purchasing", ["decision-maker"], "Referral"),
    ("Ben", "Okafor", "ben.okafor", 0, "Operations Manager", [], "Website"),
    ("Clara", "Schmidt", "clara.schmidt", 1, "CFO", ["decision-maker", "vip"], "Event"),
    ("David", "Keller", "david.keller", 1, "Plant Manager", [], "Outbound"),
    ("Emma", "Lindqvist", "emma.lindqvist", 2, "CTO", ["decision-maker"], "Website"),
    ("Farid", "Haddad", "farid.haddad", 2, "IT Lead", ["champion"], "Website"),
    ("Grace", "Whitfield", "grace.whitfield", 3, "Procurement Director", ["vip"], "Event"),
    ("Hugo", "Martin", "hugo.martin", 4, "Founder", ["decision-maker"], "Referral"),
    ("Isla", "Brennan", "isla.brennan", 3, "Clinical Systems Analyst", [], "Outbound"),
    ("Jonas", "Weber", "jonas.weber", 1, "Buyer", ["champion"], "Website"),
)

# title, value, currency, company index, contact indexes, stage name, days to close, lost reason
DEALS = (
    ("Northwind annual supply", "48000", "USD", 0, [0, 1], "Negotiation", 20, ""),
    ("Globex pilot line", "125000", "EUR", 1, [2, 3], "Proposal", 45, ""),
    ("Initech platform renewal", "36000", "USD", 2, [4, 5], "Won", -10, ""),
    ("Umbrella records migration", "90000", "GBP", 3, [6], "Qualified", 60, ""),
    ("Stark route planning", "15000", "EUR", 4, [7], "Lead", 90, ""),
    ("Globex spare parts portal", "22000", "EUR", 1, [9], "Lost", -30, "Chose an in-house build"),
)

# kind, subject, target kind and index, due in days (None: no due time), done
ACTIVITIES = (
    ("call", "Discovery call with Ada", "contact", 0, -7, True),
    ("meeting", "Pricing workshop at Globex", "deal", 1, 3, False),
    ("task", "Send Initech renewal invoice", "deal", 2, -2, True),
    ("note", "Umbrella needs HIPAA-grade audit logs", "company", 3, None, False),
    ("task", "Follow up with Hugo about fleet size", "contact", 7, 1, False),
    ("call", "Check in with Emma after go-live", "contact", 4, 14, False),
    ("task", "Prepare Northwind contract draft", "deal", 0, -1, False),
)


@dataclass(frozen=True)
class CrmDemo:
    created: int


@transaction.atomic
def crm_demo_load(*, organization: Organization, user: User) -> CrmDemo:
    """Create what is missing of the demo CRM in ``organization``; returns how many records were added."""
    created = 0
    org = organization
    pipeline = Pipeline.objects.filter(organization=org, name=PIPELINE_NAME).first()
    if pipeline is None:
        pipeline = services.pipeline_create(org=org, actor=user, name=PIPELINE_NAME, is_default=True)
        created += 1
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

    companies: list[Company] = []
    for name, domain, industry, country, employees, tags in COMPANIES:
        company = Company.objects.filter(organization=org, name=name).first()
        if company is None:
            company = services.company_create(
                org=org,
                actor=user,
                name=name,
                domain=domain,
                website=f"https://{domain}",
                industry=industry,
                country=country,
                owner=user,
                tags=tags,
                custom_fields={"employees": employees},
            )
            created += 1
        companies.append(company)

    contacts: list[Contact] = []
    for first, last, local, company_index, title, tags, source in CONTACTS:
        company = companies[company_index]
        email = f"{local}@{company.domain}"
        contact = Contact.objects.filter(organization=org, email__iexact=email).first()
        if contact is None:
            contact = services.contact_create(
                org=org,
                actor=user,
                first_name=first,
                last_name=last,
                email=email,
                job_title=title,
                phones=[f"+1 555 01{len(contacts):02d}"],
                company=company,
                owner=user,
                tags=tags,
                custom_fields={"lead_source": source},
            )
            created += 1
        contacts.append(contact)

    today = timezone.localdate()
    stages = {stage.name: stage for stage in pipeline.stages.all()}
    deals: list[Deal] = []
    for title, value, currency, company_index, contact_indexes, stage_name, days, lost_reason in DEALS:
        deal = Deal.objects.filter(organization=org, title=title).first()
        if deal is None:
            deal = services.deal_create(
                org=org,
                actor=user,
                title=title,
                value=value,
                currency=currency,
                pipeline=pipeline,
                company=companies[company_index],
                contacts=[contacts[i] for i in contact_indexes],
                owner=user,
                expected_close_date=today + datetime.timedelta(days=days),
                custom_fields={"renewal": "renewal" in title.lower()},
            )
            if stage_name in stages and stages[stage_name].pk != deal.stage_id:
                deal = services.deal_move(
                    org=org, actor=user, deal=deal, stage=stages[stage_name], lost_reason=lost_reason or None
                )
            created += 1
        deals.append(deal)

    targets: dict[str, list[Contact] | list[Company] | list[Deal]] = {
        "contact": contacts,
        "company": companies,
        "deal": deals,
    }
    now = timezone.now()
    for kind, subject, target_kind, index, due_days, done in ACTIVITIES:
        if Activity.objects.filter(organization=org, subject=subject).exists():
            continue
        linked: dict[str, Any] = {target_kind: targets[target_kind][index]}  # contact, company or deal
        services.activity_create(
            org=org,
            actor=user,
            kind=kind,
            subject=subject,
            assignee=user,
            due_at=None if due_days is None else now + datetime.timedelta(days=due_days),
            done=done,
            **linked,
        )
        created += 1
    return CrmDemo(created=created)
