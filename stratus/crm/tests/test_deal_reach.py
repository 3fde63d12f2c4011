"""The deals' reach (``crm.DealReach``) the triggers keep is what a recomputation from the deals
and their stays gives, after every kind of write (services, bulk jobs, queryset writes, the
owner's removal, raw SQL)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from stratus.accounts.models import User
from stratus.crm import reach, services, stays
from stratus.crm.models import Deal, DealReach, DealStay, Pipeline, Stage
from stratus.web.lists.services import bulk_job_create
from stratus.web.models import BulkAction
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def kept() -> dict[int, tuple[Any, ...]]:
    """What the triggers kept: deal -> its copied columns and the set of stages reached."""
    return {
        row.deal_id: (
            row.organization_id,
            row.created_at,
            row.pipeline_id,
            row.stage_id,
            row.owner_id,
            row.currency,
            row.closed_at,
            reach.stage_ids(row.reached),
        )
        for row in DealReach.objects.all()
    }


def stays_follow_their_deals() -> bool:
    """Each stay carries its deal's creation, pipeline, owner and currency, and its duration."""
    deals = {d.pk: d for d in Deal.objects.all()}
    for stay in DealStay.objects.all():
        deal = deals[stay.deal_id]
        assert (stay.deal_created_at, stay.pipeline_id, stay.owner_id, stay.currency) == (
            deal.created_at,
            deal.pipeline_id,
            deal.owner_id,
            deal.currency,
        ), stay
        assert stay.seconds == (
            None if stay.left_at is None else (stay.left_at - stay.entered_at).total_seconds()
        )
    return True


def recomputed() -> dict[int, tuple[Any, ...]]:
    """The same from the deals and their stays."""
    assert stays_follow_their_deals()
    reached: dict[int, set[int]] = {}
    for deal_id, stage_id in DealStay.objects.values_list("deal_id", "stage_id"):
        reached.setdefault(deal_id, set()).add(stage_id)
    return {
        d.pk: (
            d.organization_id,
            d.created_at,
            d.pipeline_id,
            d.stage_id,
            d.owner_id,
            d.currency,
            d.closed_at,
            reached[d.pk],
        )
        for d in Deal.objects.all()
    }


def test_the_reach_follows_every_write_of_a_deal() -> None:
    org, other = make_organization("A"), make_organization("B")
    actor = make_member(org).user
    seller = make_member(org).user
    sales = services.pipeline_create(org=org, actor=None, name="Sales")
    renewals = services.pipeline_create(org=org, actor=None, name="Renewals")
    lead, qualified, proposal = (stage(sales, n) for n in ("Lead", "Qualified", "Proposal"))
    won, lost = stage(sales, "Won"), stage(sales, "Lost")
    theirs = services.pipeline_create(org=other, actor=None, name="Sales")
    services.deal_create(org=other, actor=None, title="Theirs", stage=stage(theirs, "Lead"))

    d1 = services.deal_create(org=org, actor=actor, title="D1", stage=lead, owner=seller.pk)
    d2 = services.deal_create(org=org, actor=actor, title="D2", stage=qualified, currency="EUR")
    d3 = services.deal_create(org=org, actor=actor, title="D3", pipeline=sales)
    d4 = services.deal_create(org=org, actor=actor, title="D4", stage=lead)
    d5 = services.deal_create(org=org, actor=actor, title="D5", stage=proposal)
    assert kept() == recomputed()

    services.deal_move(org=org, actor=actor, deal=d1, stage=qualified)
    services.deal_update(org=org, actor=actor, deal=d1, stage=proposal.pk, title="D1 bis")
    services.deal_move(org=org, actor=actor, deal=d1, stage=lost, lost_reason="Price")
    services.deal_update(org=org, actor=actor, deal=d2, currency="GBP", value="12.50")
    services.deal_update(org=org, actor=actor, deal=d2, pipeline=renewals.pk)  # first stage of Renewals
    services.deal_update(org=org, actor=actor, deal=d3, owner=seller.pk)
    bulk_job_create(
        org=org, actor=actor, kind="deals", action=BulkAction.STAGE, value=won.pk, ids=[d3.pk, d4.pk]
    )
    services.deal_move(org=org, actor=actor, deal=d3, stage=lead)  # reopened: lead is reached already
    services.stage_delete(org=org, actor=actor, stage=lead, move_deals_to=qualified)  # moves d3
    order = list(Stage.objects.filter(pipeline=sales).order_by("-position").values_list("pk", flat=True))
    services.stages_reorder(org=org, actor=actor, pipeline=sales, stage_ids=order)
    services.deal_delete(org=org, actor=actor, deal=d5)
    bulk_job_create(org=org, actor=actor, kind="deals", action=BulkAction.DELETE, ids=[d4.pk])
    assert kept() == recomputed()
    assert reach.stage_ids(DealReach.objects.get(deal=d1).reached) == {
        lead.pk,
        qualified.pk,
        proposal.pk,
        lost.pk,
    }
    assert not DealReach.objects.filter(deal_id__in=[d4.pk, d5.pk]).exists()

    # Writes that no service makes: a queryset update, the owner removed (SET NULL), raw SQL.
    Deal.objects.filter(pk=d2.pk).update(currency="USD", owner=actor)
    Deal.objects.filter(pk=d1.pk).update(closed_at=None)
    User.objects.filter(pk=seller.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE crm_deal SET value = 3 WHERE id = %s", [d1.pk])  # no copied column
        cursor.execute("DELETE FROM crm_dealstay WHERE deal_id = %s", [d3.pk])
        cursor.execute("DELETE FROM crm_deal_contacts WHERE deal_id = %s", [d3.pk])
        cursor.execute("DELETE FROM crm_deal_tags WHERE deal_id = %s", [d3.pk])
        cursor.execute("DELETE FROM crm_deal WHERE id = %s", [d3.pk])
    expected = recomputed()
    assert kept() == expected
    assert {row[4] for row in expected.values()} == {None, actor.pk}

    # A rebuild (of the stays, then of the reach; of one organization, then of all) gives the
    # same rows.
    stays.rebuild(org.pk)
    reach.rebuild(connection, org.pk)
    assert kept() == expected
    stays.rebuild()
    reach.rebuild(connection)
    assert kept() == expected
