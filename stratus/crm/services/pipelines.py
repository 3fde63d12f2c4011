"""Pipelines and their stages.

Changes to an organization's pipelines are serialised on the organization's row (one default
pipeline at a time); stage changes lock the stage's pipeline first, then the stage. A stage's
changes are recorded on its pipeline's timeline (``stage.created``, ``stage.updated``, ...) and
announced as ``pipeline.updated`` with ``fields: ["stages"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import timeline
from stratus.crm.errors import CrmCode, not_found
from stratus.crm.models import Deal, Pipeline, Stage, StageKind
from stratus.crm.services import _kit as kit
from stratus.crm.services.deals import move
from stratus.platform.errors import Conflict, Invalid
from stratus.platform.unset import UNSET, Unset, given

DEFAULT_STAGES: tuple[tuple[str, int, str], ...] = (
    ("Lead", 10, StageKind.OPEN),
    ("Qualified", 25, StageKind.OPEN),
    ("Proposal", 50, StageKind.OPEN),
    ("Negotiation", 75, StageKind.OPEN),
    ("Won", 100, StageKind.WON),
    ("Lost", 0, StageKind.LOST),
)
PIPELINE_SCALAR = ("name", "position", "is_default")
STAGE_SCALAR = ("name", "position", "probability", "kind")
# Positions are renumbered in two steps so the unique (pipeline, position) never collides.
POSITION_OFFSET = 1_000_000


def _event_data(pipeline: Pipeline, action: str) -> Mapping[str, Any]:
    return {"name": pipeline.name} if action == "created" else {}


PIPELINES = kit.Entity(
    model=Pipeline,
    label="Pipeline",
    event="pipeline",
    scalar=PIPELINE_SCALAR,
    event_data=_event_data,
    deleted_data=lambda pipeline: {"name": pipeline.name},
)


def _lock_organization(org: Organization) -> None:
    """Serialise pipeline changes of an organization (one default at a time)."""
    Organization.objects.select_for_update().filter(pk=org.pk).first()


def _stage_values(
    data: Mapping[str, Any], errors: kit.Errors, prefix: str = "", current: Stage | None = None
) -> dict[str, Any]:
    """Name, kind and probability of a stage (won is 100%, lost 0%) from input merged on ``current``."""
    name = kit.clean_text(data["name"]) if "name" in data else (current.name if current else "")
    kind = data.get("kind", current.kind if current else StageKind.OPEN)
    if kind not in StageKind.values:
        errors.add(f"{prefix}kind", f"Expected one of: {', '.join(StageKind.values)}.")
        kind = StageKind.OPEN
    probability: Any
    if "probability" in data and data["probability"] is not None:
        probability = data["probability"]
    elif kind == StageKind.WON:
        probability = 100
    elif kind == StageKind.LOST:
        probability = 0
    else:
        probability = current.probability if current and current.kind == StageKind.OPEN else 0
    if isinstance(probability, bool) or not isinstance(probability, int) or not 0 <= probability <= 100:
        errors.add(f"{prefix}probability", "Expected a whole number from 0 to 100.")
    elif kind == StageKind.WON and probability != 100:
        errors.add(f"{prefix}probability", "A won stage has a probability of 100.")
    elif kind == StageKind.LOST and probability != 0:
        errors.add(f"{prefix}probability", "A lost stage has a probability of 0.")
    if not isinstance(name, str) or not name:
        errors.add(f"{prefix}name", "This field may not be blank.")
    elif len(name) > 100:
        errors.add(f"{prefix}name", "At most 100 characters.")
    return {"name": name, "kind": kind, "probability": probability}


def _renumber(pipeline: Pipeline, ordered: Sequence[Stage]) -> None:
    Stage.objects.filter(pipeline=pipeline).update(position=F("position") + POSITION_OFFSET)
    for index, stage in enumerate(ordered):
        stage.position = index
    Stage.objects.bulk_update(ordered, ["position"])


def _apply(pipeline: Pipeline, data: Mapping[str, Any], errors: kit.Errors) -> None:
    if "name" in data:
        pipeline.name = kit.clean_text(data["name"])
    if "position" in data:
        pipeline.position = data["position"]
    if "is_default" in data:
        if not isinstance(data["is_default"], bool):
            errors.add("is_default", "Expected true or false.")
        else:
            pipeline.is_default = data["is_default"]
    kit.clean_fields(pipeline, [n for n in ("name", "position") if n in data or pipeline.pk is None], errors)


def _make_default(org: Organization, pipeline: Pipeline) -> None:
    Pipeline.objects.filter(organization=org, is_default=True).exclude(pk=pipeline.pk).update(
        is_default=False, updated_at=timezone.now()
    )


def _stage_input(stages: Sequence[Mapping[str, Any]] | None, errors: kit.Errors) -> list[dict[str, Any]]:
    """The checked stages of a new pipeline (a standard set of six when ``stages`` is None)."""
    if stages is None:
        stage_input: Sequence[Mapping[str, Any]] = [
            {"name": n, "probability": p, "kind": k} for n, p, k in DEFAULT_STAGES
        ]
    elif isinstance(stages, Sequence) and not isinstance(stages, str):
        stage_input = stages
    else:
        errors.add("stages", "Expected a list of stages.")
        stage_input = []
    if stages is not None and not stage_input:
        errors.add("stages", "A pipeline needs at least one stage.")
    cleaned = []
    seen: set[str] = set()
    for index, item in enumerate(stage_input):
        if not isinstance(item, Mapping):
            errors.add(f"stages.{index}", "Expected an object with name, probability and kind.")
            continue
        for unknown in sorted(set(item) - {"name", "probability", "kind"}):
            errors.add(f"stages.{index}.{unknown}", "Unknown field.")
        values = _stage_values(item, errors, prefix=f"stages.{index}.")
        if isinstance(values["name"], str) and values["name"].lower() in seen:
            errors.add(f"stages.{index}.name", "Stage names must be distinct within a pipeline.")
        seen.add(str(values["name"]).lower())
        cleaned.append(values)
    return cleaned


# --- pipelines ------------------------------------------------------------------------------------


@transaction.atomic
def pipeline_create(
    *,
    org: Organization,
    actor: User | None,
    name: str,
    stages: Sequence[Mapping[str, Any]] | None = None,
    is_default: bool | None = None,
    position: int | None = None,
) -> Pipeline:
    """A pipeline with its ordered stages (a standard set of six when ``stages`` is None); the
    organization's first pipeline is its default unless ``is_default`` says otherwise."""
    errors = kit.Errors()
    _lock_organization(org)
    has_pipelines = Pipeline.objects.filter(organization=org).exists()
    if position is None:
        position = (Pipeline.objects.filter(organization=org).aggregate(m=Max("position"))["m"] or 0) + (
            1 if has_pipelines else 0
        )
    pipeline = Pipeline(organization=org)
    _apply(
        pipeline,
        {
            "name": name,
            "position": position,
            "is_default": not has_pipelines if is_default is None else is_default,
        },
        errors,
    )
    cleaned = _stage_input(stages, errors)
    errors.raise_if_any()
    if pipeline.is_default:
        _make_default(org, pipeline)
    kit.save(pipeline)
    rows = [
        Stage(organization=org, pipeline=pipeline, position=index, **values)
        for index, values in enumerate(cleaned)
    ]
    Stage.objects.bulk_create(rows)
    kit.record_created(
        PIPELINES, org=org, actor=actor, record=pipeline, data={"stages": [v["name"] for v in cleaned]}
    )
    return pipeline


@transaction.atomic
def pipeline_update(
    *,
    org: Organization,
    actor: User | None,
    pipeline: Pipeline | int,
    name: str | Unset = UNSET,
    position: int | Unset = UNSET,
    is_default: bool | Unset = UNSET,
) -> Pipeline:
    """Change the fields given; a pipeline stops being the default only when another becomes it."""
    data = given(name=name, position=position, is_default=is_default)
    _lock_organization(org)

    def apply(pipeline: Pipeline, errors: kit.Errors) -> None:
        was_default = pipeline.is_default
        _apply(pipeline, data, errors)
        if data.get("is_default") is False and was_default:
            errors.add("is_default", "Make another pipeline the default instead.")
        errors.raise_if_any()
        if pipeline.is_default:
            _make_default(org, pipeline)

    return kit.update(PIPELINES, org=org, actor=actor, record=pipeline, apply=apply).record


@transaction.atomic
def pipeline_delete(*, org: Organization, actor: User | None, pipeline: Pipeline | int) -> None:
    """Delete a pipeline without deals (and its stages); the next one becomes the default."""
    _lock_organization(org)

    def refuse_with_deals(pipeline: Pipeline) -> None:
        if Deal.objects.filter(organization=org, pipeline=pipeline).exists():
            raise Conflict(
                "This pipeline still has deals; move or delete them first.", code=CrmCode.PROTECTED
            )

    deleted = kit.delete(PIPELINES, org=org, actor=actor, record=pipeline, before=refuse_with_deals)
    if deleted.is_default:
        successor = Pipeline.objects.filter(organization=org).order_by("position", "id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default"])


# --- stages ---------------------------------------------------------------------------------------


def _stages_changed(
    org: Organization,
    actor: User | None,
    pipeline: Pipeline,
    action: str,
    *,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Record a change of ``pipeline``'s stages on its timeline and announce the pipeline."""
    timeline.record(organization=org, actor=actor, target=pipeline, action=action, changes=changes, data=data)
    PIPELINES.announce(org, pipeline, "updated", fields=["stages"])


@transaction.atomic
def stage_create(
    *,
    org: Organization,
    actor: User | None,
    pipeline: Pipeline | int,
    name: str,
    probability: int | None = None,
    kind: str = StageKind.OPEN,
    position: int | None = None,
) -> Stage:
    """A new stage at ``position`` (0-based; appended when None), shifting later stages down."""
    pipeline = kit.load_for_update(Pipeline, org, pipeline, PIPELINES.label)
    errors = kit.Errors()
    values = _stage_values({"name": name, "probability": probability, "kind": kind}, errors)
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if position is None:
        position = len(stages)
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= len(stages):
        errors.add("position", f"Expected a position from 0 to {len(stages)}.")
    if any(s.name.lower() == str(values["name"]).lower() for s in stages):
        errors.add("name", "This pipeline already has a stage with this name.")
    errors.raise_if_any()
    stage = Stage(organization=org, pipeline=pipeline, position=POSITION_OFFSET * 2, **values)
    kit.save(stage)
    stages.insert(position, stage)
    _renumber(pipeline, stages)
    _stages_changed(
        org,
        actor,
        pipeline,
        "stage.created",
        data={"stage": stage.pk, "name": stage.name, "position": stage.position},
    )
    return stage


def _lock_pipeline_of(org: Organization, stage: Stage | int) -> Pipeline:
    """Lock the stage's pipeline before the stage: the order stage_create uses, so no deadlock."""
    stage_id = kit.id_of(stage)
    pipeline_id = (
        Stage.objects.filter(organization=org, pk=stage_id).values_list("pipeline_id", flat=True).first()
        if stage_id is not None
        else None
    )
    pipeline = (
        Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()
        if pipeline_id is not None
        else None
    )
    if pipeline is None:  # never existed, or deleted with its pipeline meanwhile
        raise not_found("Stage")
    return pipeline


@transaction.atomic
def stage_update(
    *,
    org: Organization,
    actor: User | None,
    stage: Stage | int,
    name: str | Unset = UNSET,
    probability: int | Unset | None = UNSET,
    kind: str | Unset = UNSET,
    position: int | Unset = UNSET,
) -> Stage:
    """Change the fields given; a won stage has probability 100, a lost one 0, and the kind of a
    stage that holds deals stays. A new ``position`` shifts the stages between."""
    data = given(name=name, probability=probability, kind=kind, position=position)
    pipeline = _lock_pipeline_of(org, stage)
    stage = kit.load_for_update(Stage, org, stage, "Stage")
    errors = kit.Errors()
    before = kit.snapshot(stage, STAGE_SCALAR, ())
    values = _stage_values(data, errors, current=stage)
    siblings = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if any(s.pk != stage.pk and s.name.lower() == str(values["name"]).lower() for s in siblings):
        errors.add("name", "This pipeline already has a stage with this name.")
    new_position = data.get("position", stage.position)
    if (
        isinstance(new_position, bool)
        or not isinstance(new_position, int)
        or not 0 <= new_position < len(siblings)
    ):
        errors.add("position", f"Expected a position from 0 to {len(siblings) - 1}.")
    if values["kind"] != stage.kind and Deal.objects.filter(organization=org, stage=stage).exists():
        errors.add("kind", "The kind of a stage that holds deals cannot change; move the deals first.")
    errors.raise_if_any()
    for field, value in values.items():
        setattr(stage, field, value)
    kit.save(stage)
    if new_position != stage.position:
        ordered = [s for s in siblings if s.pk != stage.pk]
        ordered.insert(new_position, stage)
        _renumber(pipeline, ordered)
    changes = kit.diff(before, kit.snapshot(stage, STAGE_SCALAR, ()))
    if changes:
        _stages_changed(
            org,
            actor,
            pipeline,
            "stage.updated",
            changes={f"stages.{stage.pk}.{k}": v for k, v in changes.items()},
        )
    return stage


@transaction.atomic
def stage_delete(
    *, org: Organization, actor: User | None, stage: Stage | int, move_deals_to: Stage | int | None = None
) -> None:
    """Delete a stage; its deals move to ``move_deals_to`` (a stage of the same pipeline) first."""
    pipeline = _lock_pipeline_of(org, stage)
    stage = kit.load_for_update(Stage, org, stage, "Stage")
    siblings = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    if len(siblings) == 1:
        raise Conflict("A pipeline needs at least one stage.", code=CrmCode.PROTECTED)
    deals = list(Deal.objects.select_for_update().filter(organization=org, stage=stage))
    errors = kit.Errors()
    target = None
    if move_deals_to is not None:
        target = kit.tenant_ref(Stage, org, move_deals_to, "move_deals_to", errors)
        if target is not None and (target.pipeline_id != pipeline.pk or target.pk == stage.pk):
            errors.add("move_deals_to", "Expected another stage of the same pipeline.")
    elif deals:
        errors.add("move_deals_to", "This stage holds deals: name the stage they move to.")
    errors.raise_if_any()
    now = timezone.now()
    if target is not None:
        for deal in deals:
            reason = deal.lost_reason or "moved when its stage was deleted"
            move(org=org, actor=actor, deal=deal, old=stage, stage=target, lost_reason=reason, now=now)
    _stages_changed(org, actor, pipeline, "stage.deleted", data={"stage": stage.pk, "name": stage.name})
    remaining = [s for s in siblings if s.pk != stage.pk]
    stage.delete()
    _renumber(pipeline, remaining)


@transaction.atomic
def stages_reorder(
    *, org: Organization, actor: User | None, pipeline: Pipeline | int, stage_ids: Sequence[int]
) -> list[Stage]:
    """Put the pipeline's stages in the order of ``stage_ids`` (each of its stages exactly once)."""
    pipeline = kit.load_for_update(Pipeline, org, pipeline, PIPELINES.label)
    stages = {s.pk: s for s in Stage.objects.filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(stages):
        raise Invalid(
            "List every stage of the pipeline exactly once.",
            field_errors={"stage_ids": ["Expected each of the pipeline's stage ids exactly once."]},
            code=CrmCode.INVALID,
        )
    old = [s.pk for s in sorted(stages.values(), key=lambda s: s.position)]
    ordered = [stages[pk] for pk in stage_ids]
    _renumber(pipeline, ordered)
    if old != list(stage_ids):
        _stages_changed(org, actor, pipeline, "stage.reordered", changes={"stages": (old, list(stage_ids))})
    return ordered
