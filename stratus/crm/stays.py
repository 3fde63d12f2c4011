"""The deal stays (``DealStay``): each deal's stages over time, as its timeline tells them.

A deal's stays replay its ``moved`` timeline entries whose ``stage`` change is an object, in
(``created_at``, id) order: the first stay is in the first move's old stage (the stage the deal
was created in) from the deal's creation; each move ends the stay it is in and starts one in its
new stage. A deal that never moved has one stay, in its stage, from its creation. A stage that
is not a number (none is written so) ends the stay without starting one.

The deal services call ``opened`` (deal created) and ``moved`` (stage changed) in the
transaction of the change; deleting a deal deletes its stays (cascade); deleting a stage keeps
the stays in it, as the timeline keeps the moves. ``rebuild`` replays the timeline (the data
migrations that fill the table, ``manage.py reports_rebuild_summaries``).

Each stay also carries what the velocity filters and measures without a join: its deal's
creation, pipeline, owner and currency (written here; the triggers of ``crm.reach`` copy the
deal's later changes to its stays) and, once it has ended, its ``seconds``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from stratus.crm.models import Deal, DealStay, TimelineEntry

BATCH = 5_000

Stay = tuple[int, datetime.datetime, datetime.datetime | None]
# a deal as the rebuild reads it: id, organization, stage, creation, pipeline, owner, currency
Row = tuple[int, int, int, datetime.datetime, int, int | None, str]


def _of(deal: Deal) -> dict[str, Any]:
    """The deal's columns a stay carries (the triggers of ``crm.reach`` copy their changes)."""
    return {
        "organization_id": deal.organization_id,
        "deal_id": deal.pk,
        "deal_created_at": deal.created_at,
        "pipeline_id": deal.pipeline_id,
        "owner_id": deal.owner_id,
        "currency": deal.currency,
    }


def opened(deal: Deal) -> None:
    """A new deal's first stay: its stage, from its creation."""
    DealStay.objects.create(**_of(deal), stage_id=deal.stage_id, entered_at=deal.created_at)


# The ended stay's duration in one statement (the duration exactly as ``timedelta.total_seconds``
# gives it: the microseconds between the two instants divided by 10^6, correctly rounded).
_END_SQL = {
    "postgresql": "extract(epoch FROM %s::timestamptz - entered_at)::float8",
    "sqlite": (
        "((CAST(strftime('%%s', %s) AS INTEGER) - CAST(strftime('%%s', entered_at) AS INTEGER)) * 1000000"
        " + CAST(substr(%s || '.000000', 21, 6) AS INTEGER)"
        " - CAST(substr(entered_at || '.000000', 21, 6) AS INTEGER)) / 1000000.0"
    ),
}


def moved(deal: Deal, stage_id: int, moment: datetime.datetime) -> None:
    """The deal's stay ends at ``moment`` (its ``moved`` entry's time); one in ``stage_id`` starts."""
    at = connection.ops.adapt_datetimefield_value(moment)
    seconds = _END_SQL[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE crm_dealstay SET left_at = %s, seconds = {seconds} "  # noqa: S608 - constants
            "WHERE organization_id = %s AND deal_id = %s AND left_at IS NULL",
            (at, *([at] * seconds.replace("%%", "").count("%s")), deal.organization_id, deal.pk),
        )
    DealStay.objects.create(**_of(deal), stage_id=stage_id, entered_at=moment)


def _stage(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def replay(
    stage_id: int, created_at: datetime.datetime, moves: Iterable[tuple[datetime.datetime, Any]]
) -> list[Stay]:
    """A deal's stays from its stage, creation and ``moved`` entries (time, ``changes``) in order."""
    steps = []
    for moment, changes in moves:
        stage = (changes or {}).get("stage") if isinstance(changes, dict) else None
        if isinstance(stage, dict):
            steps.append((moment, _stage(stage.get("old")), _stage(stage.get("new"))))
    if not steps:
        return [(stage_id, created_at, None)]
    stays: list[Stay] = []
    current, entered = steps[0][1], created_at
    for moment, _, new in steps:
        if current is not None:
            stays.append((current, entered, moment))
        current, entered = new, moment
    if current is not None:
        stays.append((current, entered, None))
    return stays


def rebuild(
    organization_id: int | None = None,
    *,
    deals: Any = Deal,
    entries: Any = TimelineEntry,
    stays: Any = DealStay,
) -> int:
    """Replace the stays (of one organization, or all) by the replay of the timeline; returns
    how many were written. ``deals``, ``entries``, ``stays``: the models (a migration passes its
    historical ones)."""
    written = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One rebuild at a time: two at once would each delete what they see, then both write.
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE crm_dealstay IN SHARE ROW EXCLUSIVE MODE")
        rows = deals.objects.all()
        old = stays.objects.all()
        if organization_id is not None:
            rows = rows.filter(organization_id=organization_id)
            old = old.filter(organization_id=organization_id)
        old.delete()
        batch: list[Row] = []
        for row in (
            rows.order_by("pk")
            .values_list(
                "pk", "organization_id", "stage_id", "created_at", "pipeline_id", "owner_id", "currency"
            )
            .iterator(chunk_size=BATCH)
        ):
            batch.append(row)
            if len(batch) == BATCH:
                written += _write(batch, entries, stays)
                batch = []
        if batch:
            written += _write(batch, entries, stays)
    return written


def _write(batch: list[Row], entries: Any, stays: Any) -> int:
    moves: dict[tuple[int, int], list[tuple[datetime.datetime, Any]]] = defaultdict(list)
    found = (
        entries.objects.filter(
            organization_id__in={row[1] for row in batch},
            target_type="deal",
            action="moved",
            target_id__gte=batch[0][0],
            target_id__lte=batch[-1][0],
        )
        .order_by("created_at", "pk")
        .values_list("organization_id", "target_id", "created_at", "changes")
    )
    for org, target, moment, changes in found:
        moves[(org, target)].append((moment, changes))
    # (the stays' model as the migration that calls this knows it: 0008 has no velocity columns)
    known = {field.name for field in stays._meta.concrete_fields}
    rows = [
        stays(
            **{
                name: value
                for name, value in {
                    "organization_id": org,
                    "deal_id": pk,
                    "stage_id": stage,
                    "deal_created_at": created,
                    "entered_at": entered,
                    "left_at": left,
                    "seconds": None if left is None else (left - entered).total_seconds(),
                    "pipeline_id": pipeline_id,
                    "owner_id": owner_id,
                    "currency": currency,
                }.items()
                if name.removesuffix("_id") in known or name in known
            }
        )
        for pk, org, stage_id, created, pipeline_id, owner_id, currency in batch
        for stage, entered, left in replay(stage_id, created, moves.get((org, pk), []))
    ]
    stays.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)
