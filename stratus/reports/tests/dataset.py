"""The fixed data set every report engine is tested on, built through the CRM's services.

Deals are created and moved by ``deal_create`` and ``deal_move`` (so the stage history is the
timeline the app really writes); then each row's timestamps are set to the scripted instant,
so every figure is deterministic. Campaign recipients are written as the sender leaves them.
Organization B holds look-alike data that no report of A may count.

The script (all times UTC, 2026; "Sales" is the default pipeline: Lead 10%, Qualified 25%,
Proposal 50%, Negotiation 75%, Won, Lost; "Partners": Intro 20%, Signed, Dropped):

    deal owner currency value   created      path (date of each move)
    D1   alice EUR  1000.00 01-05 09:00 Lead, Qualified 01-07, Proposal 01-12, Won 01-20
    D2   alice USD   500.00 01-06 09:00 Lead, Qualified 01-08, Lost 01-15 ("Price")
    D3   bob   EUR  2000.00 01-10 09:00 Qualified, Proposal 01-14, Won 02-03
    D4   bob   USD   300.00 01-12 09:00 Lead, Lost 02-10 ("No budget")
    D5   alice EUR   800.00 02-02 09:00 Lead, Proposal 02-04 21:00; closes 2026-03-15
    D6   bob   EUR  1200.00 02-05 09:00 Negotiation; closes 2026-03-31
    D7   -     USD   250.50 02-06 09:00 Qualified; closes 2026-04-10
    D8   alice EUR   400.00 02-09 09:00 Lead, Lost 02-11 ("Price")
    D9   alice EUR   100.00 03-01 09:00 Lead; no close date
    P1   bob   GBP   700.00 01-20 09:00 Intro, Signed 01-25              (Partners)
    P2   alice GBP   900.00 01-21 09:00 Intro; closes 2026-03-20         (Partners)
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass, field

from stratus.accounts.models import Organization, Role, User
from stratus.campaigns.models import (
    Campaign,
    CampaignState,
    Recipient,
    RecipientState,
    Suppression,
    SuppressionReason,
)
from stratus.crm import stays
from stratus.crm.models import Activity, ActivityKind, Contact, Deal, Pipeline, Stage, TimelineEntry
from stratus.crm.services import activity_create, contact_create, deal_create, deal_move, pipeline_create
from testsupport.factories import make_member, make_organization

AS_OF = datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=datetime.UTC)


@dataclass
class DataSet:
    org: Organization
    other: Organization
    alice: User
    bob: User
    sales: Pipeline
    partners: Pipeline
    stages: dict[str, Stage] = field(default_factory=dict)  # "Sales/Lead", "Partners/Intro", ...
    deals: dict[str, Deal] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)


class Builder:
    def __init__(self, org: Organization, actor: User) -> None:
        self.org, self.actor = org, actor

    def deal(
        self,
        title: str,
        stage: Stage,
        owner: User | None,
        currency: str,
        value: str,
        created: datetime.datetime,
        closes: datetime.date | None = None,
    ) -> Deal:
        deal = deal_create(
            org=self.org,
            actor=self.actor,
            title=title,
            value=decimal.Decimal(value),
            currency=currency,
            pipeline=stage.pipeline,
            stage=stage,
            owner=owner,
            expected_close_date=closes,
        )
        Deal.objects.filter(pk=deal.pk).update(created_at=created, stage_changed_at=created)
        TimelineEntry.objects.filter(organization=self.org, target_type="deal", target_id=deal.pk).update(
            created_at=created
        )
        stays.rebuild(self.org.pk)  # the summaries follow the timestamps set after the fact
        return deal

    def move(self, deal: Deal, stage: Stage, when: datetime.datetime, reason: str | None = None) -> None:
        moved = deal_move(org=self.org, actor=self.actor, deal=deal, stage=stage, lost_reason=reason)
        entry = (
            TimelineEntry.objects.filter(
                organization=self.org, target_type="deal", target_id=deal.pk, action="moved"
            )
            .order_by("-pk")
            .first()
        )
        assert entry is not None
        TimelineEntry.objects.filter(pk=entry.pk).update(created_at=when)
        closed = when if moved.closed_at is not None else None
        Deal.objects.filter(pk=deal.pk).update(stage_changed_at=when, closed_at=closed)
        stays.rebuild(self.org.pk)

    def activity(
        self,
        kind: str,
        contact: Contact,
        assignee: User | None,
        created: datetime.datetime,
        due: datetime.datetime | None = None,
        done: bool = False,
    ) -> Activity:
        activity = activity_create(
            org=self.org,
            actor=self.actor,
            subject=f"{kind} {created:%m-%d}",
            kind=kind,
            contact=contact,
            assignee=assignee,
            due_at=due,
            done=done,
        )
        Activity.objects.filter(pk=activity.pk).update(created_at=created)
        return activity

    def campaign(self, name: str, creator: User, state: str, started: datetime.datetime | None) -> Campaign:
        return Campaign.objects.create(
            organization=self.org,
            name=name,
            subject=name,
            created_by=creator,
            state=state,
            started_at=started,
        )

    def recipient(self, campaign: Campaign, contact: Contact, state: str, **fields: object) -> Recipient:
        return Recipient.objects.create(
            organization=self.org,
            campaign=campaign,
            contact=contact,
            email=contact.email,
            state=state,
            **fields,
        )

    def bounce(self, recipient: Recipient, when: datetime.datetime) -> None:
        Suppression.objects.create(
            organization=self.org,
            email=recipient.email.lower(),
            reason=SuppressionReason.BOUNCED,
            campaign=recipient.campaign,
            detail="550 no such user",
            created_at=when,
        )


def _member(org: Organization, name: str) -> User:
    user = make_member(org, Role.MEMBER).user
    user.full_name = name
    user.save(update_fields=["full_name"])
    return user


def build_dataset() -> DataSet:
    org = make_organization("Reports A")
    other = make_organization("Reports B")
    alice, bob = _member(org, "Alice Archer"), _member(org, "Bob Baker")
    b = Builder(org, alice)
    sales = pipeline_create(org=org, actor=alice, name="Sales")
    partners = pipeline_create(
        org=org,
        actor=alice,
        name="Partners",
        stages=[
            {"name": "Intro", "probability": 20, "kind": "open"},
            {"name": "Signed", "probability": 100, "kind": "won"},
            {"name": "Dropped", "probability": 0, "kind": "lost"},
        ],
    )
    ds = DataSet(org=org, other=other, alice=alice, bob=bob, sales=sales, partners=partners)
    for stage in Stage.objects.filter(organization=org).select_related("pipeline"):
        ds.stages[f"{stage.pipeline.name}/{stage.name}"] = stage
    s = ds.stages

    def deal(name: str, stage: str, *args: object, **kwargs: object) -> Deal:
        ds.deals[name] = b.deal(name, s[stage], *args, **kwargs)  # type: ignore[arg-type]
        return ds.deals[name]

    d1 = deal("D1", "Sales/Lead", alice, "EUR", "1000.00", at(1, 5))
    b.move(d1, s["Sales/Qualified"], at(1, 7))
    b.move(d1, s["Sales/Proposal"], at(1, 12))
    b.move(d1, s["Sales/Won"], at(1, 20))
    d2 = deal("D2", "Sales/Lead", alice, "USD", "500.00", at(1, 6))
    b.move(d2, s["Sales/Qualified"], at(1, 8))
    b.move(d2, s["Sales/Lost"], at(1, 15), "Price")
    d3 = deal("D3", "Sales/Qualified", bob, "EUR", "2000.00", at(1, 10))
    b.move(d3, s["Sales/Proposal"], at(1, 14))
    b.move(d3, s["Sales/Won"], at(2, 3))
    d4 = deal("D4", "Sales/Lead", bob, "USD", "300.00", at(1, 12))
    b.move(d4, s["Sales/Lost"], at(2, 10), "No budget")
    d5 = deal("D5", "Sales/Lead", alice, "EUR", "800.00", at(2, 2), datetime.date(2026, 3, 15))
    b.move(d5, s["Sales/Proposal"], at(2, 4, 21))
    deal("D6", "Sales/Negotiation", bob, "EUR", "1200.00", at(2, 5), datetime.date(2026, 3, 31))
    deal("D7", "Sales/Qualified", None, "USD", "250.50", at(2, 6), datetime.date(2026, 4, 10))
    d8 = deal("D8", "Sales/Lead", alice, "EUR", "400.00", at(2, 9))
    b.move(d8, s["Sales/Lost"], at(2, 11), "Price")
    deal("D9", "Sales/Lead", alice, "EUR", "100.00", at(3, 1))
    p1 = deal("P1", "Partners/Intro", bob, "GBP", "700.00", at(1, 20))
    b.move(p1, s["Partners/Signed"], at(1, 25))
    deal("P2", "Partners/Intro", alice, "GBP", "900.00", at(1, 21), datetime.date(2026, 3, 20))

    contacts = [
        contact_create(org=org, actor=alice, first_name=f"Person {n}", email=f"person{n}@a.example")
        for n in range(1, 6)
    ]
    c = contacts[0]
    b.activity(ActivityKind.TASK, c, alice, at(1, 5, 10), due=at(1, 9))  # overdue on AS_OF
    b.activity(ActivityKind.CALL, c, alice, at(1, 6))
    b.activity(ActivityKind.MEETING, c, alice, at(1, 13))
    b.activity(ActivityKind.NOTE, c, alice, at(1, 14))
    b.activity(ActivityKind.TASK, c, bob, at(1, 7), due=at(1, 20), done=True)
    b.activity(ActivityKind.TASK, c, bob, at(1, 13), due=at(3, 1))
    b.activity(ActivityKind.CALL, c, bob, at(1, 14))
    b.activity(ActivityKind.NOTE, c, None, at(1, 8))

    january = ds.campaigns["January"] = b.campaign("January news", alice, CampaignState.SENT, at(1, 20, 10))
    b.recipient(
        january, contacts[0], RecipientState.SENT,
        sent_at=at(1, 20, 10), opened_at=at(1, 20, 12), open_count=2, clicked_at=at(1, 21), click_count=1,
    )  # fmt: skip
    b.recipient(
        january, contacts[1], RecipientState.SENT,
        sent_at=at(1, 20, 10, 1), opened_at=at(1, 21, 8), open_count=1, unsubscribed_at=at(1, 21, 8, 5),
    )  # fmt: skip
    b.recipient(january, contacts[2], RecipientState.SENT, sent_at=at(1, 20, 10, 2))
    bounced = b.recipient(
        january, contacts[3], RecipientState.FAILED, attempts=1, last_error="550 no such user"
    )
    b.bounce(bounced, at(1, 20, 10, 3))
    b.recipient(january, contacts[4], RecipientState.FAILED, attempts=5, last_error="451 try again later")
    february = ds.campaigns["February"] = b.campaign(
        "February offer", bob, CampaignState.SENDING, at(2, 10, 10)
    )
    b.recipient(february, contacts[0], RecipientState.SENT, sent_at=at(2, 10, 10), opened_at=at(2, 10, 11))
    b.recipient(february, contacts[1], RecipientState.QUEUED)
    b.recipient(february, contacts[2], RecipientState.SKIPPED)
    ds.campaigns["Draft"] = b.campaign("Spring draft", alice, CampaignState.DRAFT, None)

    _noise(other)
    return ds


def _noise(org: Organization) -> None:
    """Organization B: deals, activities and a campaign on the same days, which A never counts."""
    owner = _member(org, "Bea Other")
    b = Builder(org, owner)
    pipeline_create(org=org, actor=owner, name="Sales")
    stages = {s.name: s for s in Stage.objects.filter(organization=org)}
    won = b.deal("B1", stages["Lead"], owner, "EUR", "99999.00", at(1, 5))
    b.move(won, stages["Won"], at(1, 20))
    lost = b.deal("B2", stages["Lead"], owner, "USD", "55555.00", at(1, 6))
    b.move(lost, stages["Lost"], at(1, 15), "Price")
    b.deal("B3", stages["Proposal"], owner, "EUR", "77777.00", at(1, 7), datetime.date(2026, 3, 15))
    contact = contact_create(org=org, actor=owner, first_name="Other", email="person1@a.example")
    b.activity(ActivityKind.TASK, contact, owner, at(1, 5, 10), due=at(1, 9))
    campaign = b.campaign("January news", owner, CampaignState.SENT, at(1, 20, 10))
    b.recipient(campaign, contact, RecipientState.SENT, sent_at=at(1, 20, 10), opened_at=at(1, 20, 12))
