"""The deal stays (``crm.DealStay``) the services keep say what the deals' timelines say."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.crm import services, stays
from stratus.crm.models import Deal, DealStay, Pipeline, Stage, TimelineEntry
from stratus.web.lists.services import bulk_job_create
from stratus.web.models import BulkAction
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def rows(org: Any) -> list[tuple[Any, ...]]:
    return list(
        DealStay.objects.filter(organization=org)
        .order_by("deal_id", "entered_at", "id")
        .values_list("deal_id", "stage_id", "deal_created_at", "entered_at", "left_at")
    )


def path(deal: Deal) -> list[int]:
    return list(
        DealStay.objects.filter(deal=deal).order_by("entered_at", "id").values_list("stage_id", flat=True)
    )


def test_the_stays_are_the_replay_of_the_timeline_after_every_kind_of_change() -> None:
    org, other = make_organization("A"), make_organization("B")
    actor = make_member(org).user
    sales = services.pipeline_create(org=org, actor=None, name="Sales")
    renewals = services.pipeline_create(org=org, actor=None, name="Renewals")
    lead, qualified, proposal = (stage(sales, n) for n in ("Lead", "Qualified", "Proposal"))
    won, lost = stage(sales, "Won"), stage(sales, "Lost")
    theirs = services.pipeline_create(org=other, actor=None, name="Sales")
    kept = services.deal_create(org=other, actor=None, title="Theirs", stage=stage(theirs, "Lead"))
    services.deal_move(org=other, actor=None, deal=kept, stage=stage(theirs, "Won"))
    theirs_before = rows(other)

    d1 = services.deal_create(org=org, actor=actor, title="D1", stage=lead)
    d2 = services.deal_create(org=org, actor=actor, title="D2", stage=qualified)
    d3 = services.deal_create(org=org, actor=actor, title="D3", pipeline=sales)
    d4 = services.deal_create(org=org, actor=actor, title="D4", stage=lead)
    d5 = services.deal_create(org=org, actor=actor, title="D5", stage=proposal)
    services.deal_move(org=org, actor=actor, deal=d1, stage=qualified)
    services.deal_update(org=org, actor=actor, deal=d1, stage=proposal.pk, title="D1 bis")
    services.deal_move(org=org, actor=actor, deal=d1, stage=lost, lost_reason="Price")
    services.deal_move(org=org, actor=actor, deal=d1, stage=lost, lost_reason="Timing")  # no new stay
    services.deal_move(org=org, actor=actor, deal=d1, stage=lost, lost_reason="Timing")  # nothing
    services.deal_update(org=org, actor=actor, deal=d2, title="Only the title")  # no stay
    services.deal_update(org=org, actor=actor, deal=d2, pipeline=renewals.pk)  # first stage of Renewals
    bulk_job_create(
        org=org, actor=actor, kind="deals", action=BulkAction.STAGE, value=won.pk, ids=[d3.pk, d4.pk]
    )
    services.deal_move(org=org, actor=actor, deal=d3, stage=lead)  # reopened
    services.stage_delete(org=org, actor=actor, stage=lead, move_deals_to=qualified)  # moves d3
    services.deal_delete(org=org, actor=actor, deal=d5)
    bulk_job_create(org=org, actor=actor, kind="deals", action=BulkAction.DELETE, ids=[d4.pk])

    assert path(d1) == [lead.pk, qualified.pk, proposal.pk, lost.pk]
    assert path(d2) == [qualified.pk, stage(renewals, "Lead").pk]
    # The stays in the deleted stage are kept, as the timeline keeps the moves.
    assert path(d3) == [lead.pk, won.pk, lead.pk, qualified.pk]
    assert not DealStay.objects.filter(deal_id__in=[d4.pk, d5.pk]).exists()
    # Each stay starts when the previous one ends (its ``moved`` entry), the first at creation;
    # only the last is open.
    for deal in (d1, d2, d3):
        deal.refresh_from_db()
        found = list(DealStay.objects.filter(deal=deal).order_by("entered_at", "id"))
        moments = list(
            TimelineEntry.objects.filter(
                organization=org,
                target_type="deal",
                target_id=deal.pk,
                action="moved",
                changes__has_key="stage",
            )
            .order_by("created_at", "pk")
            .values_list("created_at", flat=True)
        )
        assert [s.entered_at for s in found] == [deal.created_at, *moments]
        assert [s.left_at for s in found] == [*moments, None]
        assert {s.deal_created_at for s in found} == {deal.created_at}
        assert found[-1].stage_id == deal.stage_id

    # What the services wrote is what a replay of the timeline writes, and a rebuild changes
    # nothing (nor the other organization's).
    before = rows(org)
    assert stays.rebuild(org.pk) == len(before) == 10
    assert rows(org) == before
    assert stays.rebuild() == len(before) + len(theirs_before)
    assert (rows(org), rows(other)) == (before, theirs_before)


def test_the_replay_of_a_timeline() -> None:
    import datetime

    t = [datetime.datetime(2026, 1, day, tzinfo=datetime.UTC) for day in range(1, 6)]
    move = lambda old, new: {"stage": {"old": old, "new": new}}  # noqa: E731
    assert stays.replay(7, t[0], []) == [(7, t[0], None)]
    assert stays.replay(7, t[0], [(t[1], {"lost_reason": {"old": "", "new": "x"}})]) == [(7, t[0], None)]
    assert stays.replay(7, t[0], [(t[1], move(1, 2)), (t[2], move(2, 3))]) == [
        (1, t[0], t[1]),
        (2, t[1], t[2]),
        (3, t[2], None),
    ]
    # A stage that is not a number ends a stay without starting one.
    assert stays.replay(7, t[0], [(t[1], move(1, "x")), (t[2], move("x", 3))]) == [
        (1, t[0], t[1]),
        (3, t[2], None),
    ]
