"""Every way a deal changes stage is recorded the same way: one ``moved`` entry, one ``deal.moved``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stratus.crm import services
from stratus.crm.models import Deal, Pipeline, Stage, TimelineEntry
from stratus.realtime import events
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db


def stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def by_update(org: Any, actor: Any, deal: Deal, target: Stage) -> None:
    services.deal_update(org=org, actor=actor, deal=deal, stage=target.pk, lost_reason="price")


def by_move(org: Any, actor: Any, deal: Deal, target: Stage) -> None:
    services.deal_move(org=org, actor=actor, deal=deal, stage=target, lost_reason="price")


def by_stage_delete(org: Any, actor: Any, deal: Deal, target: Stage) -> None:
    deal.lost_reason = "price"
    Deal.objects.filter(pk=deal.pk).update(lost_reason="price")
    services.stage_delete(org=org, actor=actor, stage=deal.stage, move_deals_to=target)


@pytest.mark.parametrize("change", [by_update, by_move, by_stage_delete])
def test_every_stage_change_records_the_same_entry_and_event(
    change: Callable[..., None], monkeypatch, django_capture_on_commit_callbacks
) -> None:
    org = make_organization()
    actor = make_member(org).user
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    deal = services.deal_create(org=org, actor=actor, title="Deal", stage=stage(pipeline, "Proposal"))
    old, lost = stage(pipeline, "Proposal"), stage(pipeline, "Lost")
    delivered: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        events,
        "deliver_now",
        lambda *, organization_id, event_json, data_json, user_id=None: delivered.append(
            (json.loads(event_json), json.loads(data_json))
        ),
    )

    with django_capture_on_commit_callbacks(execute=True):
        change(org, actor, deal, lost)

    moves = [data for event, data in delivered if event == "deal.moved"]
    assert moves == [{"id": deal.pk, "from_stage": old.pk, "to_stage": lost.pk, "pipeline": pipeline.pk}]
    entry = TimelineEntry.objects.get(target_type="deal", target_id=deal.pk, action="moved")
    assert entry.actor == actor
    assert entry.data == {"from_stage": "Proposal", "to_stage": "Lost", "kind": "lost"}
    assert entry.changes is not None
    assert entry.changes["stage"] == {"old": old.pk, "new": lost.pk}
    assert entry.changes["closed_at"]["old"] is None
    assert entry.changes["closed_at"]["new"] is not None
    deal.refresh_from_db()
    assert (deal.stage_id, deal.lost_reason, deal.closed_at is not None) == (lost.pk, "price", True)
