"""The board's selectors: totals per stage and currency, first cards per stage, keyset pages."""

from __future__ import annotations

import decimal
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stratus.crm import selectors, services
from stratus.crm.models import Deal, Pipeline, Stage
from testsupport.factories import make_member
from testsupport.factories import make_organization as make_org
from testsupport.processes import manage, run_python

# The last test runs the selectors on the embedded default in a process of its own.
pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]


def _stages(pipeline: Pipeline) -> list[Stage]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position"))


def _deal(stage: Stage, value: str = "0", currency: str = "USD", **fields: object) -> Deal:
    return Deal.objects.create(
        organization_id=stage.organization_id,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        title="Deal",
        value=decimal.Decimal(value),
        currency=currency,
        **fields,
    )


def test_stage_totals_add_up_per_currency_only_within_the_filter_and_pipeline() -> None:
    org = make_org()
    owner = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    other = services.pipeline_create(org=org, actor=None, name="Other")
    lead, won = _stages(pipeline)[0], _stages(pipeline)[4]
    _deal(lead, "10.10", "EUR", owner=owner)
    _deal(lead, "0.90", "EUR", owner=owner)
    _deal(lead, "5", "USD", owner=owner)
    _deal(lead, "1000", "EUR")  # nobody's
    _deal(won, "7", "GBP", owner=owner)
    _deal(_stages(other)[0], "99", "EUR", owner=owner)  # another pipeline
    foreign_org = make_org()
    foreign = services.pipeline_create(org=foreign_org, actor=None, name="Sales")
    _deal(_stages(foreign)[0], "55", "EUR")

    with CaptureQueriesContext(connection) as queries:
        totals = selectors.deal_stage_totals(org=org, pipeline=pipeline, filters={"owner": str(owner.pk)})
    assert len(queries.captured_queries) == 1
    assert totals == {
        lead.pk: selectors.StageTotal(
            count=3, sums=(("EUR", decimal.Decimal("11.00")), ("USD", decimal.Decimal("5.00")))
        ),
        won.pk: selectors.StageTotal(count=1, sums=(("GBP", decimal.Decimal("7.00")),)),
    }
    everyone = selectors.deal_stage_totals(org=org, pipeline=pipeline)
    assert everyone[lead.pk].count == 4
    assert dict(everyone[lead.pk].sums)["EUR"] == decimal.Decimal("1011.00")


def test_board_gives_the_newest_cards_of_every_stage_in_one_query() -> None:
    org = make_org()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    stages = _stages(pipeline)
    made = {stage.pk: [_deal(stage) for _ in range(4)] for stage in stages[:3]}
    with CaptureQueriesContext(connection) as queries:
        board = selectors.deal_board(org=org, pipeline=pipeline, per_stage=3)
        shown = {stage: [(d.pk, d.company, d.owner) for d in deals] for stage, deals in board.items()}
    assert len(queries.captured_queries) == 1
    assert set(shown) == set(made)
    for stage, deals in made.items():
        newest = sorted(deals, key=lambda d: (d.created_at, d.pk), reverse=True)[:3]
        assert [pk for pk, _, _ in shown[stage]] == [d.pk for d in newest]


def test_board_cards_are_the_newest_matching_the_filter_of_this_pipeline_only() -> None:
    org = make_org()
    owner = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    other_pipeline = services.pipeline_create(org=org, actor=None, name="Renewals")
    lead, qualified = _stages(pipeline)[:2]
    mine = [_deal(lead, owner=owner) for _ in range(3)]
    _deal(lead)  # newest of the stage, but not the owner's
    _deal(_stages(other_pipeline)[0], owner=owner)
    _deal(qualified)
    other_org_deal = _deal(_stages(services.pipeline_create(org=make_org(), actor=None, name="Sales"))[0])
    board = selectors.deal_board(org=org, pipeline=pipeline, filters={"owner": str(owner.pk)}, per_stage=2)
    newest = sorted(mine, key=lambda d: (d.created_at, d.pk), reverse=True)[:2]
    assert {stage: [d.pk for d in deals] for stage, deals in board.items()} == {
        lead.pk: [d.pk for d in newest]
    }
    assert other_org_deal.pk not in {d.pk for deals in board.values() for d in deals}


def test_a_column_pages_by_keyset_and_a_foreign_cursor_gives_nothing() -> None:
    org, other = make_org(), make_org()
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    lead = _stages(pipeline)[0]
    deals = [_deal(lead) for _ in range(5)]
    newest_first = sorted(deals, key=lambda d: (d.created_at, d.pk), reverse=True)
    first = selectors.deal_board_column(org=org, stage=lead, limit=2)
    second = selectors.deal_board_column(org=org, stage=lead, after=first[-1].pk, limit=2)
    third = selectors.deal_board_column(org=org, stage=lead, after=second[-1].pk, limit=2)
    assert [d.pk for d in first + second + third] == [d.pk for d in newest_first]
    foreign = services.pipeline_create(org=other, actor=None, name="Sales")
    foreign_deal = _deal(_stages(foreign)[0])
    assert selectors.deal_board_column(org=org, stage=lead, after=foreign_deal.pk, limit=2) == []


BOARD_ON_SQLITE = """
import django, json
django.setup()
from stratus.accounts.models import Organization
from stratus.crm import selectors
from stratus.crm.models import Deal
org = Organization.objects.get(slug="demo")
pipeline = selectors.pipeline_list(org=org).filter(is_default=True).get()
first = pipeline.stages.order_by("position").first()
for n in range(3):
    Deal.objects.create(organization=org, pipeline=pipeline, stage=first, title=f"Extra {n}")
totals = selectors.deal_stage_totals(org=org, pipeline=pipeline)
board = selectors.deal_board(org=org, pipeline=pipeline, per_stage=2)
print(json.dumps({
    "counted": sum(t.count for t in totals.values()),
    "deals": pipeline.deals.count(),
    "per_stage": max(len(cards) for cards in board.values()),
    "stages": sorted(board) == sorted(stage for stage, total in totals.items() if total.count),
}))
"""


def test_the_board_selectors_run_on_the_embedded_default(tmp_path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    for command in (("migrate", "--noinput"), ("load_demo",)):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    result = run_python(BOARD_ON_SQLITE, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["counted"] == found["deals"] > 0
    assert found["per_stage"] == 2
    assert found["stages"] is True
