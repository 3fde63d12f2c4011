# ruff: noqa: E501  (the templates are sentences; wrapping them would hurt reading)
"""Generate the labelled evaluation set for search quality (deterministic: a seeded RNG).

    uv run python bench/search_eval/generate.py            # writes bench/search_eval/dataset.json

CRM-like passages (notes, activity bodies and document text) about fictional customers of a
software vendor, and questions a sales person would ask, each with the ids of the passages
that answer it. Passages of a topic are written in one vocabulary, its questions in another
(paraphrases and synonyms: "onboarding was slow" is answered by "the rollout dragged on for
nine weeks"), so ranking by shared words is not enough. Hard negatives are built in: the same
topic at other companies, other topics at the same company, and decoys that use a question's
words in an unrelated sense ("sent the onboarding checklist to our new hire").

The file holds ``passages`` (id, source, record, topic, text), ``queries`` (id, text, kind,
relevant ids) and ``stats`` (counts, and how many of a question's content words appear in its
answers: low by design). Run it again after editing the templates; commit both files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 17
HERE = Path(__file__).resolve().parent

COMPANIES = [
    "Acme Logistics", "Borealis Foods", "Cobalt Health", "Driftwood Media", "Everlight Energy",
    "Fjordline Analytics", "Granite Mutual", "Halcyon Retail", "Ironbark Construction",
    "Juniper Schools", "Kestrel Aviation", "Lumen Dental", "Meridian Credit Union", "Nimbus Travel",
    "Orchid Pharma", "Pinecrest Hotels", "Quarrystone Mining", "Redwood Legal", "Saffron Kitchens",
    "Tidewater Shipping", "Umbra Facilities", "Vantage Realty", "Willowbrook Care", "Xenith Robotics",
]  # fmt: skip
FIRST = ["Maria", "Tom", "Aisha", "Lars", "Priya", "Diego", "Hannah", "Kenji", "Olga", "Samuel",
         "Fatima", "Lucas", "Mei", "Jonas", "Chloe", "Ravi", "Ingrid", "Pedro", "Zoe", "Malik"]  # fmt: skip
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Schneider", "Costa", "Novak", "Haddad",
        "Fischer", "Rossi", "Kowalski", "Brennan", "Ng", "Dubois", "Varga", "Patel"]  # fmt: skip
TITLES = ["CFO", "head of operations", "IT director", "procurement lead", "VP of sales",
          "office manager", "CTO", "customer success lead", "general counsel", "COO"]  # fmt: skip
RIVALS = ["Pipewise", "DealForge", "Closely", "Funnelry"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
SOURCES = {
    "note": ["{text}", "Note after talking to {person}: {text}", "{text} (from {person}, {title})"],
    "activity": [
        "Call with {person} ({title}). {text}",
        "Meeting at {company} with {person}. {text}",
        "Email from {person}, {title}: {text}",
        "Video call, {person} and two colleagues. {text}",
    ],
    "document": [
        "{text}",
        "Account review {company}, section {n}. {text}",
        "Excerpt, {doc} for {company}: {text}",
    ],
}
DOCS = ["master services agreement", "order form", "security questionnaire", "quarterly business review",
        "proposal", "renewal quote", "support ticket export", "statement of work"]  # fmt: skip


@dataclass
class Topic:
    key: str
    passages: list[str]
    questions: list[str]  # with {company}
    open_questions: list[str] = field(default_factory=list)  # no company: every passage of the topic
    sources: tuple[str, ...] = ("note", "activity", "document")
    rare: bool = False  # a few companies only, so open questions have a short answer list


TOPICS = [
    Topic(
        "onboarding_slow",
        [
            "Their rollout dragged on for {weeks} weeks and the team is frustrated it took that long to get going.",
            "{person} said getting set up felt painfully drawn out; they expected to be live within a fortnight, it took {weeks} weeks.",
            "Implementation stalled twice while waiting on us; the first weeks were sluggish and staff lost patience.",
            "Go-live slipped by {weeks} weeks. They feel the kickoff-to-launch phase was far too lengthy.",
        ],
        [
            "who complained about onboarding speed at {company}?",
            "was {company} unhappy with how slow onboarding was?",
        ],
        ["who complained about onboarding speed?", "which customers found onboarding too slow?"],
        rare=True,
    ),
    Topic(
        "renewal_terms",
        [
            "The agreement rolls over automatically for another {years} years unless either side gives {days} days written notice.",
            "Auto-extension clause: term continues for successive {years}-year periods; cancellation notice {days} days before the anniversary.",
            "They want the rollover period cut from {years} years to one and the notice window shortened to {days} days.",
            "Current term ends in {month}; it extends by itself unless they opt out {days} days ahead.",
        ],
        [
            "contract renewal terms for {company}",
            "when does the {company} contract renew and how much notice do they need?",
        ],
    ),
    Topic(
        "price_increase_objection",
        [
            "{person} pushed back hard on the {pct}% uplift in next year's quote and says the budget cannot absorb it.",
            "They find the new list rates unjustified; a {pct}% jump with no added value is a non-starter for them.",
            "Finance refused to sign while the per-seat cost goes up {pct}%; they asked us to hold last year's figure.",
        ],
        ["did {company} object to the price increase?", "is {company} upset about paying more next year?"],
    ),
    Topic(
        "discount_request",
        [
            "Asked whether we could take {pct}% off if they commit to {years} years up front.",
            "{person} wants a reduction on the Enterprise plan; mentioned {rival} offered them a lower figure.",
            "They would sign this quarter in exchange for a {pct}% rebate on the first invoice.",
        ],
        ["is {company} asking for a discount?", "what concession does {company} want on the deal?"],
    ),
    Topic(
        "security_review",
        [
            "Their InfoSec team sent a {n}-item questionnaire covering encryption at rest, penetration testing and our SOC 2 report.",
            "{person} needs our latest pen-test summary and SOC 2 Type II attestation before procurement can continue.",
            "Vendor risk assessment pending: they asked about key rotation, vulnerability scanning and incident handling.",
        ],
        [
            "where are we with the security review for {company}?",
            "what compliance paperwork does {company} need from us?",
        ],
    ),
    Topic(
        "data_residency",
        [
            "All customer records must stay on servers inside the EU; a US-hosted copy is a blocker for their regulator.",
            "{person} insists the database lives in Frankfurt or Dublin; moving personal files across the Atlantic is not allowed.",
            "Their works council demands that staff information never leaves Germany.",
        ],
        ["does {company} require data to be kept in Europe?"],
        ["which accounts need their data hosted in Europe?", "who has data location requirements?"],
        rare=True,
    ),
    Topic(
        "sso_request",
        [
            "They want staff to log in with their Azure AD accounts through SAML instead of separate passwords.",
            "{person} asked whether Okta can be the identity provider so people use one corporate login.",
            "Without sign-in through their existing directory, IT will not approve the rollout.",
        ],
        ["does {company} need single sign-on?", "what authentication setup does {company} ask for?"],
    ),
    Topic(
        "churn_risk",
        [
            "{person} hinted they are evaluating {rival} and may not stay past {month}.",
            "Usage dropped by half; the sponsor stopped replying and a competitor demo is booked.",
            "They said openly that unless things improve this quarter they will move to {rival}.",
        ],
        ["is {company} at risk of leaving us?", "could we lose {company} as a customer?"],
    ),
    Topic(
        "upsell_seats",
        [
            "Their sales floor grows by {n} people in {month}; they need {n} more licences.",
            "{person} wants to add the marketing team, roughly {n} extra users, before the next billing cycle.",
            "Headcount doubled after the merger, so they asked for a quote covering {n} additional logins.",
        ],
        ["is {company} buying more seats?", "expansion opportunity at {company}"],
    ),
    Topic(
        "billing_error",
        [
            "Invoice {n} charged them twice for the same month; accounts payable wants a corrected statement.",
            "{person} noticed the amount billed does not match the order form: {n} users instead of the agreed number.",
            "We applied the wrong VAT rate; their bookkeeper asked for a credit note.",
        ],
        ["was {company} invoiced incorrectly?", "did {company} report a problem with what we charged?"],
    ),
    Topic(
        "outage_complaint",
        [
            "The platform was unreachable for {hours} hours on Monday and their reps could not log calls.",
            "{person} is angry about last week's downtime: nobody from us posted a status update while it was broken.",
            "Second interruption of service this month; their managers lost a morning of pipeline reviews.",
        ],
        ["did {company} complain about an outage?", "was {company} affected when the system went down?"],
    ),
    Topic(
        "integration_request",
        [
            "They need invoices to flow into their accounting package (Xero) without retyping.",
            "{person} asked for two-way sync with their ERP so orders show up on the account automatically.",
            "Their developers want webhooks to push closed opportunities into the warehouse system.",
        ],
        [
            "does {company} want us to connect to their other software?",
            "what systems does {company} want linked?",
        ],
    ),
    Topic(
        "training_request",
        [
            "New hires keep asking how to log activities; {person} requested a workshop for {n} reps.",
            "They would like recorded tutorials and a half-day session for team leads in {month}.",
            "Adoption is low because nobody showed them the pipeline views; they asked for coaching.",
        ],
        [
            "does {company} need training for their staff?",
            "who asked for a course on using the product at {company}?",
        ],
    ),
    Topic(
        "champion_left",
        [
            "Our main sponsor {person} resigned last week; no one has taken over the relationship yet.",
            "{person} moved to a competitor, so we have lost our internal advocate there.",
            "The person who bought us left in {month}; her replacement has never heard of the project.",
        ],
        ["did our contact at {company} leave the company?"],
        ["where did our main contact quit?", "which accounts lost their internal supporter?"],
        rare=True,
    ),
    Topic(
        "budget_freeze",
        [
            "All new spending is on hold until the board approves next year's plan in {month}.",
            "{person} says finance froze purchases; nothing can be signed before the fiscal year closes.",
            "Cost-cutting round: every vendor contract above {n}k needs the CFO's approval, which is paused.",
        ],
        ["why is the {company} deal stuck on budget?", "can {company} spend money right now?"],
    ),
    Topic(
        "legal_redlines",
        [
            "Their counsel struck out the limitation of liability cap and asked for unlimited indemnity.",
            "{person} returned the MSA with edits to clauses {n} and 12 on confidentiality and governing law.",
            "Lawyers want the agreement governed by English law and a mutual NDA attached.",
        ],
        ["what changes did the {company} lawyers make to the contract?", "legal pushback from {company}"],
    ),
    Topic(
        "payment_terms",
        [
            "They can only pay at net {days} after receipt of invoice, per group policy.",
            "{person} asked to be billed quarterly in arrears instead of annually up front.",
            "Accounts payable runs once a month; anything due sooner than {days} days will be late.",
        ],
        ["how does {company} want to pay us?", "when will {company} settle invoices?"],
    ),
    Topic(
        "feature_praise",
        [
            "{person} loves the forecast dashboard; her managers use it every Monday.",
            "Very positive feedback: the pipeline board saved their team hours each week.",
            "They told the board our reporting is the best tool they adopted this year.",
        ],
        ["is {company} happy with the product?", "what does {company} like about us?"],
    ),
    Topic(
        "mobile_app_bugs",
        [
            "The phone app crashes when reps attach a photo during a site visit.",
            "{person} reports the Android version freezes on the contact screen after the last update.",
            "Field staff cannot sync visits from their iPhones when the signal is weak.",
        ],
        ["is {company} having trouble with the mobile app?", "bugs reported on phones by {company}"],
    ),
    Topic(
        "performance_slow",
        [
            "Dashboards take {n} seconds to appear for their managers every morning.",
            "{person} says searching the account list is sluggish and pages hang while loading.",
            "Reports with a year of history time out before they render.",
        ],
        ["does {company} find the product slow?", "speed problems at {company}"],
    ),
    Topic(
        "gdpr_deletion",
        [
            "A former client of theirs invoked the right to erasure; they need every record of that person wiped.",
            "{person} asked how to purge a contact completely, including backups, within the statutory month.",
            "Their privacy officer wants proof that personal details are destroyed when a subject asks.",
        ],
        ["how do we delete personal data for {company}?"],
        [
            "who asked about removing someone's personal information?",
            "which customers had a privacy erasure request?",
        ],
        rare=True,
    ),
    Topic(
        "termination_clause",
        [
            "They insist on being able to exit with {days} days notice for convenience, without paying the remaining term.",
            "{person} wants a walk-away right if we miss the uptime commitment three months in a row.",
            "Early exit fee: they proposed paying {pct}% of the remaining fees if they end the agreement early.",
        ],
        ["can {company} cancel the contract early?", "what are the exit conditions for {company}?"],
    ),
    Topic(
        "sla_credits",
        [
            "Availability below 99.9% in a month gives them a {pct}% service credit on that month's fee.",
            "{person} claimed compensation for the missed uptime target in {month}.",
            "They want response-time guarantees for severity-one incidents written into the agreement.",
        ],
        [
            "what uptime guarantee did we give {company}?",
            "does {company} get money back when the service is down?",
        ],
    ),
    Topic(
        "vendor_registration",
        [
            "Before the first purchase order we must fill in their supplier onboarding portal with bank details and tax ID.",
            "{person} sent the new-supplier form; it needs our insurance certificate and a W-9.",
            "Procurement wants us registered in Coupa before they can raise a PO.",
        ],
        ["what paperwork does {company} procurement need before buying?"],
        ["which customers need us to register as a supplier?"],
        rare=True,
    ),
    Topic(
        "expansion_region",
        [
            "They are opening an office in Singapore in {month} and want the Asian team on the same instance.",
            "{person} said the Brazilian subsidiary will join next year, so they need Portuguese and BRL pricing.",
            "Growth into Canada means another {n} people and French-language screens.",
        ],
        ["is {company} growing into other countries?", "international plans at {company}"],
    ),
    Topic(
        "referral",
        [
            "{person} offered to introduce us to two peers at sister companies.",
            "They agreed to be a reference and to record a short customer story video.",
            "Happy to speak with prospects in their industry; we may quote them in a case study.",
        ],
        ["will {company} recommend us to others?"],
        ["which customers would act as a reference?", "who offered to introduce us to other firms?"],
        rare=True,
    ),
    Topic(
        "support_response_slow",
        [
            "Tickets sit unanswered for {days} days; {person} had to chase the helpdesk by phone.",
            "Their admins wait too long for replies from our help desk; one case stayed open {n} days.",
            "First reply on urgent cases came after two business days, which they call unacceptable.",
        ],
        [
            "is {company} unhappy with how quickly support answers?",
            "complaints about our help desk response times from {company}",
        ],
    ),
    Topic(
        "pilot_success",
        [
            "The trial group of {n} reps closed more business in four weeks than the control team.",
            "{person} confirmed the proof of concept met every success criterion they set.",
            "Evaluation went well; they are ready to roll out to the whole organisation.",
        ],
        ["did the {company} trial go well?", "results of the proof of concept with {company}"],
    ),
    Topic(
        "data_export",
        [
            "They asked for a full dump of contacts, deals and history in CSV before the term ends.",
            "{person} wants to take all records with them; how can they download everything at once?",
            "Their analysts need a nightly extract of the pipeline into their BI warehouse.",
        ],
        ["can {company} get all their data out?", "export request from {company}"],
    ),
    Topic(
        "plan_comparison",
        [
            "{person} asked what the Growth tier includes that Starter lacks, especially API limits.",
            "They were confused about which edition has forecasting and audit logs.",
            "Wanted a side-by-side of Starter, Growth and Enterprise before choosing.",
        ],
        ["what did {company} ask about the differences between our packages?"],
    ),
]

# Text that shares a question's words but does not answer it (lexical decoys), and routine text.
DECOYS = [
    "Sent the onboarding checklist to our own new account executive; she starts {month}.",
    "Internal: onboarding speed for new sales hires is measured in the team OKRs this quarter.",
    "Reminder to renew the parking permit for the {company} office visit.",
    "The contract for the catering at our customer day has been signed; menu renewal next year.",
    "Price list for the trade-show booth increased; marketing will pay for it.",
    "Discount codes for the conference were shared with the partner team.",
    "Security guard at the {company} reception asked for a visitor badge; bring ID.",
    "Data from the webinar registration form was imported into the campaign list.",
    "Single sign-on for our own internal wiki was fixed by IT.",
    "Seats for the team dinner are booked for {n} people.",
    "Outage of the office coffee machine delayed the morning stand-up.",
    "Training budget for our own reps was approved by HR.",
    "Left a voicemail; will try again on {month} {n}.",
    "Budget template for next year's events circulated internally.",
    "The lawyers' offices are on the third floor; meeting room booked.",
    "Payment for the sponsorship was sent to the conference organiser.",
    "The mobile hotspot for the sales van was replaced.",
    "Slow traffic meant we arrived late to the {company} meeting; apologised.",
    "Personal data section of our own employee handbook was updated.",
    "Exit interview scheduled for a departing colleague in our support team.",
    "Support for the charity run: {n} colleagues signed up.",
    "Export the slides as PDF before sending them to {company}.",
    "Plan for the quarterly kickoff: agenda, venue and speakers.",
    "International dialling code for {company}'s Lisbon office is +351.",
]
ROUTINE = [
    "Scheduled a follow-up with {person} for {month} {n}.",
    "Sent the meeting notes and the agenda for next week to {person}.",
    "{person} is on holiday until the {n}th; her deputy handles urgent questions.",
    "Intro call: {company} has about {n} employees and three regional offices.",
    "Updated the account address after their move to a new building.",
    "Shared the product roadmap slides with {person}.",
    "Confirmed attendance at our customer day in {month}.",
    "{person} asked for the slides from the demo; sent them.",
    "Logged a short check-in call; nothing new to report.",
    "Added {person} ({title}) as a contact on the account.",
]

STOPWORD_TEXT = (
    "a an the and or of to in on at for with by from is are was were be been do does did has have had "
    "it its this that these those who what which when where why how we us our you your they their them "
    "he she his her i me my can could would will should about any all not no into as than so if there "
    "here get got"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())


def words(text: str) -> set[str]:
    """Content words, crudely stemmed (for the overlap statistic only)."""
    found = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word in STOPWORDS or len(word) < 3:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        found.add(word)
    return found


class Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.passages: list[dict[str, Any]] = []
        self.people = {c: [self._person() for _ in range(3)] for c in COMPANIES}

    def _person(self) -> tuple[str, str]:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", self.rng.choice(TITLES)

    def fill(self, template: str, company: str) -> str:
        person, title = self.rng.choice(self.people[company])
        values = {
            "company": company,
            "person": person,
            "title": title,
            "rival": self.rng.choice(RIVALS),
            "month": self.rng.choice(MONTHS),
            "doc": self.rng.choice(DOCS),
            "n": self.rng.randint(3, 60),
            "weeks": self.rng.randint(7, 16),
            "years": self.rng.choice([2, 3]),
            "days": self.rng.choice([30, 45, 60, 90]),
            "pct": self.rng.choice([8, 10, 12, 15, 18, 20, 25]),
            "hours": self.rng.randint(2, 9),
        }
        return template.format(**values)

    def add(self, source: str, company: str | None, topic: str | None, body: str) -> dict[str, Any]:
        owner = company or self.rng.choice(COMPANIES)
        frame = self.rng.choice(SOURCES[source])
        text = self.fill(frame.replace("{text}", body.replace("{", "{{").replace("}", "}}")), owner)
        passage = {
            "id": "",
            "source": source,
            "record": {"type": "company", "name": owner},
            "topic": topic,
            "text": text,
        }
        self.passages.append(passage)
        return passage


def build(seed: int = SEED) -> dict[str, Any]:
    builder = Builder(seed)
    rng = builder.rng
    by_topic_company: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for topic in TOPICS:
        companies = rng.sample(COMPANIES, 4 if topic.rare else 13)
        for company in companies:
            count = 1 if topic.rare else rng.choice([1, 2, 2, 3])
            templates = rng.sample(topic.passages, min(count, len(topic.passages)))
            for template in templates:
                body = builder.fill(template, company)
                passage = builder.add(rng.choice(topic.sources), company, topic.key, body)
                by_topic_company[(topic.key, company)].append(passage)
    for _ in range(150):
        builder.add(
            rng.choice(["note", "activity"]),
            None,
            None,
            builder.fill(rng.choice(DECOYS), rng.choice(COMPANIES)),
        )
    for _ in range(300):
        company = rng.choice(COMPANIES)
        builder.add(
            rng.choice(["note", "activity"]), company, None, builder.fill(rng.choice(ROUTINE), company)
        )
    # Ids in a shuffled order, so neither ties in a ranking nor ids group a topic's passages.
    rng.shuffle(builder.passages)
    for number, passage in enumerate(builder.passages, start=1):
        passage["id"] = f"p{number:04d}"

    queries: list[dict[str, Any]] = []
    for topic in TOPICS:
        pairs = sorted(key for key in by_topic_company if key[0] == topic.key)
        for _, company in pairs:
            template = rng.choice(topic.questions)
            relevant = [p["id"] for p in by_topic_company[(topic.key, company)]]
            queries.append({"text": template.format(company=company), "kind": "company", "topic": topic.key,
                            "relevant": sorted(relevant)})  # fmt: skip
        for template in topic.open_questions:
            relevant = sorted(
                p["id"] for (key, _), found in by_topic_company.items() if key == topic.key for p in found
            )
            queries.append({"text": template, "kind": "open", "topic": topic.key, "relevant": relevant})
    for number, query in enumerate(queries, start=1):
        query["id"] = f"q{number:03d}"

    text_of = {p["id"]: p["text"] for p in builder.passages}
    company_words = set().union(*(words(c) for c in COMPANIES))
    overlaps = []
    for query in queries:
        asked = words(query["text"]) - company_words
        answered = set().union(*(words(text_of[pid]) for pid in query["relevant"]))
        overlaps.append(len(asked & answered) / len(asked) if asked else 0.0)
    overlaps.sort()
    stats = {
        "seed": seed,
        "passages": len(builder.passages),
        "by_source": {s: sum(p["source"] == s for p in builder.passages) for s in SOURCES},
        "queries": len(queries),
        "by_kind": {k: sum(q["kind"] == k for q in queries) for k in ("company", "open")},
        "topics": len(TOPICS),
        "companies": len(COMPANIES),
        "query_word_overlap_median": round(overlaps[len(overlaps) // 2], 3),
        "query_word_overlap_mean": round(sum(overlaps) / len(overlaps), 3),
        "queries_with_no_content_word_in_answers": sum(o == 0 for o in overlaps),
        "overlap_note": "share of a question's content words (company names left out, crude stemming) "
        "that appear in any of its relevant passages",
    }
    return {
        "description": "Stratus search evaluation set: CRM passages and labelled questions (bench/search_eval).",
        "stats": stats,
        "passages": builder.passages,
        "queries": [{k: q[k] for k in ("id", "text", "kind", "topic", "relevant")} for q in queries],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=HERE / "dataset.json")
    args = parser.parse_args()
    data = build(args.seed)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(data["stats"], indent=2))


if __name__ == "__main__":
    main()
