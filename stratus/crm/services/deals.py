"""Deals: create, update, move, delete, and the one way a deal's stage change is recorded."""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import stays, timeline
from stratus.crm.models import Company, Contact, CustomFieldEntity, Deal, Pipeline, Stage, StageKind
from stratus.crm.services import _kit as kit
from stratus.crm.services.tags import TAGS, checked_names
from stratus.platform.unset import UNSET, Unset, given

DEAL_SCALAR = ("title", "value", "currency", "expected_close_date", "lost_reason", "closed_at")
DEAL_REFS = ("pipeline", "stage", "company", "owner")
MAX_DEAL_CONTACTS = 100
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# The fields a stage change sets; a ``moved`` entry records these.
MOVE_FIELDS = ("stage", "pipeline", "closed_at", "lost_reason")


def _current_contacts(deal: Deal) -> list[int]:
    return sorted(deal.contacts.values_list("pk", flat=True))


def _write_contacts(org: Organization, deal: Deal, contacts: Sequence[Contact], creating: bool) -> list[int]:
    if contacts or not creating:
        deal.contacts.set(contacts)
    return sorted(c.pk for c in contacts)


def _event_data(deal: Deal, action: str) -> Mapping[str, Any]:
    return {"title": deal.title, "stage": deal.stage_id} if action == "created" else {}


DEALS = kit.Entity(
    model=Deal,
    label="Deal",
    event="deal",
    scalar=DEAL_SCALAR,
    refs=DEAL_REFS,
    # A deal's contacts in the timeline by id, its tags by name.
    links=(kit.Link(name="contacts", current=_current_contacts, write=_write_contacts), TAGS),
    event_data=_event_data,
)


# --- stage changes --------------------------------------------------------------------------------


def apply_stage(deal: Deal, stage: Stage, lost_reason: str, now: datetime.datetime) -> None:
    """Put ``deal`` in ``stage`` with the won/lost bookkeeping (closed time, lost reason)."""
    changed = deal.stage_id != stage.pk
    if changed:
        deal.stage_changed_at = now
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    if stage.kind == StageKind.OPEN:
        deal.closed_at = None
        deal.lost_reason = ""
    else:
        if deal.closed_at is None or changed:
            deal.closed_at = now
        deal.lost_reason = lost_reason if stage.kind == StageKind.LOST else ""


def deal_moved(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal,
    old: Stage,
    before: Mapping[str, Any],
) -> None:
    """Record a deal's stage change, whichever way it happened (``deal_update``, ``deal_move``, a
    stage deleted with its deals moved): one ``moved`` timeline entry with the stage fields that
    changed and one ``deal.moved`` event. ``before`` is the deal's snapshot before
    ``apply_stage``. The deal's stays (``crm.stays``) follow the move."""
    new = deal.stage
    after = DEALS.snapshot(deal)
    changes = {key: change for key, change in kit.diff(before, after).items() if key in MOVE_FIELDS}
    entry = timeline.record(
        organization=org,
        actor=actor,
        target=deal,
        action="moved",
        changes=changes,
        data={"from_stage": old.name, "to_stage": new.name, "kind": new.kind},
    )
    if "stage" in changes:  # (a lost deal's new reason alone is no stay)
        stays.moved(deal, new.pk, entry.created_at)
    kit.announce(
        org,
        "deal.moved",
        {"id": deal.pk, "from_stage": old.pk, "to_stage": new.pk, "pipeline": new.pipeline_id},
    )


def move(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal,
    old: Stage,
    stage: Stage,
    lost_reason: str,
    now: datetime.datetime,
) -> None:
    """Put a locked ``deal`` from ``old`` (its stage) in another ``stage``, save it, record the move."""
    before = DEALS.snapshot(deal)
    apply_stage(deal, stage, lost_reason, now)
    kit.save(deal)
    deal_moved(org=org, actor=actor, deal=deal, old=old, before=before)


# --- create, update, move, delete -----------------------------------------------------------------


def _contacts(org: Organization, value: Any, errors: kit.Errors) -> list[Contact] | None:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        errors.add("contacts", "Expected a list of contact ids.")
        return None
    ids = []
    for item in value:
        pk = kit.id_of(item)
        if pk is None or (isinstance(item, Contact) and item.organization_id != org.pk):
            errors.add("contacts", "Expected a list of contact ids.")
            return None
        ids.append(pk)
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_DEAL_CONTACTS:
        errors.add("contacts", f"At most {MAX_DEAL_CONTACTS} contacts.")
        return None
    found = {c.pk: c for c in Contact.objects.filter(organization=org, pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        errors.add("contacts", f"No contact with id {', '.join(map(str, missing))} in this organization.")
        return None
    return [found[pk] for pk in ids]


def _apply(
    deal: Deal,
    org: Organization,
    data: Mapping[str, Any],
    creating: bool,
    errors: kit.Errors,
    now: datetime.datetime,
) -> tuple[dict[str, Any], Stage | None]:
    """Assign and check ``data``; returns the new links (contacts, tags; None: unchanged) and the
    stage moved from (if moved)."""
    for name in ("title", "currency", "lost_reason"):
        if name in data:
            setattr(deal, name, kit.clean_text(data[name]))
    if "value" in data:
        deal.value = data["value"] if data["value"] is not None else decimal.Decimal(0)
    if "expected_close_date" in data:
        deal.expected_close_date = data["expected_close_date"]
    if isinstance(deal.currency, str):
        deal.currency = deal.currency.upper()
        if not CURRENCY_PATTERN.fullmatch(deal.currency):
            errors.add("currency", "Expected a three-letter ISO 4217 code such as EUR or USD.")
    if "company" in data:
        deal.company = kit.tenant_ref(Company, org, data["company"], "company", errors)
    if "owner" in data:
        deal.owner = kit.member(org, data["owner"], "owner", errors)
    contacts = _contacts(org, data["contacts"], errors) if "contacts" in data else None
    tags = checked_names(data["tags"], errors) if "tags" in data else None
    kit.clean_fields(
        deal,
        [n for n in ("title", "value", "expected_close_date", "lost_reason") if n in data or creating],
        errors,
    )
    if isinstance(deal.value, decimal.Decimal):
        if deal.value < 0:
            errors.add("value", "Expected zero or more.")
        deal.value = deal.value.quantize(decimal.Decimal("0.01"))

    old_stage: Stage | None = None if creating else deal.stage
    pipeline = (
        kit.tenant_ref(Pipeline, org, data.get("pipeline"), "pipeline", errors)
        if data.get("pipeline")
        else None
    )
    stage = kit.tenant_ref(Stage, org, data.get("stage"), "stage", errors) if data.get("stage") else None
    if "stage" in data and not data.get("stage") and not creating:
        errors.add("stage", "A deal is always in a stage.")
    if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
        errors.add("stage", "This stage belongs to another pipeline.")
    if stage is None and not errors.fields.get("stage"):
        if pipeline is None and creating and "pipeline" not in errors.fields:
            pipeline = Pipeline.objects.filter(organization=org, is_default=True).first()
            if pipeline is None:
                errors.add("pipeline", "This organization has no pipeline yet; create one first.")
        if pipeline is not None and (creating or pipeline.pk != deal.pipeline_id):
            stage = Stage.objects.filter(pipeline=pipeline).order_by("position").first()
            if stage is None:
                errors.add("pipeline", "This pipeline has no stages.")
    target = stage if stage is not None else old_stage
    lost_reason = deal.lost_reason
    if target is not None and target.kind == StageKind.LOST and not lost_reason:
        errors.add("lost_reason", "Say why the deal was lost.")
    elif (
        target is not None and target.kind != StageKind.LOST and "lost_reason" in data and data["lost_reason"]
    ):
        errors.add("lost_reason", "Only a lost deal has a lost reason.")
    kit.clean_custom(deal, org, CustomFieldEntity.DEAL, data, creating, errors)
    errors.raise_if_any()
    links = {"contacts": contacts, "tags": tags}
    if stage is not None and (creating or stage.pk != deal.stage_id):
        apply_stage(deal, stage, lost_reason, now)
        return links, old_stage
    return links, None


@transaction.atomic
def deal_create(
    *,
    org: Organization,
    actor: User | None,
    title: str,
    value: decimal.Decimal | int | str | Unset | None = UNSET,
    currency: str | Unset = UNSET,
    pipeline: Pipeline | int | Unset | None = UNSET,
    stage: Stage | int | Unset | None = UNSET,
    company: Company | int | Unset | None = UNSET,
    contacts: Sequence[Contact | int] | Unset | None = UNSET,
    owner: User | int | Unset | None = UNSET,
    expected_close_date: datetime.date | str | Unset | None = UNSET,
    lost_reason: str | Unset = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
) -> Deal:
    """A deal in ``stage`` (or the first stage of ``pipeline``, or of the default pipeline);
    ``tags`` are names, as for contacts and companies (created in ``org`` when new)."""
    data = given(
        title=title,
        value=value,
        currency=currency,
        pipeline=pipeline,
        stage=stage,
        company=company,
        contacts=contacts,
        owner=owner,
        expected_close_date=expected_close_date,
        lost_reason=lost_reason,
        tags=tags,
        custom_fields=custom_fields,
    )
    now = timezone.now()
    deal = Deal(organization=org, stage_changed_at=now)

    def apply(deal: Deal, errors: kit.Errors) -> dict[str, Any]:
        links, _ = _apply(deal, org, data, True, errors, now)
        return links

    created = kit.create(DEALS, org=org, actor=actor, record=deal, apply=apply)
    stays.opened(created)
    return created


@dataclass
class _Move:
    old: Stage | None = None


@transaction.atomic
def deal_update(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal | int,
    title: str | Unset = UNSET,
    value: decimal.Decimal | int | str | Unset | None = UNSET,
    currency: str | Unset = UNSET,
    pipeline: Pipeline | int | Unset | None = UNSET,
    stage: Stage | int | Unset | None = UNSET,
    company: Company | int | Unset | None = UNSET,
    contacts: Sequence[Contact | int] | Unset | None = UNSET,
    owner: User | int | Unset | None = UNSET,
    expected_close_date: datetime.date | str | Unset | None = UNSET,
    lost_reason: str | Unset = UNSET,
    tags: Sequence[str] | Unset | None = UNSET,
    custom_fields: Mapping[str, Any] | Unset | None = UNSET,
    expected_updated_at: datetime.datetime | None = None,
) -> Deal:
    """Change a deal's fields; a new ``stage`` (or ``pipeline``) is also recorded as a move;
    ``tags`` replaces the tags, ``custom_fields`` is a patch. ``expected_updated_at``: the
    ``updated_at`` the caller read; when the record changed since, nothing is written
    (``Conflict``, ``CrmCode.STALE``)."""
    data = given(
        title=title,
        value=value,
        currency=currency,
        pipeline=pipeline,
        stage=stage,
        company=company,
        contacts=contacts,
        owner=owner,
        expected_close_date=expected_close_date,
        lost_reason=lost_reason,
        tags=tags,
        custom_fields=custom_fields,
    )
    now = timezone.now()
    moved = _Move()

    def apply(deal: Deal, errors: kit.Errors) -> dict[str, Any]:
        links, moved.old = _apply(deal, org, data, False, errors, now)
        return links

    updated = kit.update(
        DEALS, org=org, actor=actor, record=deal, apply=apply, expected_updated_at=expected_updated_at
    )
    if moved.old is not None:
        deal_moved(org=org, actor=actor, deal=updated.record, old=moved.old, before=updated.before)
    return updated.record


@transaction.atomic
def deal_move(
    *,
    org: Organization,
    actor: User | None,
    deal: Deal | int,
    stage: Stage | int,
    lost_reason: str | None = None,
) -> Deal:
    """Move a deal to ``stage`` (of any pipeline of ``org``).

    Moving to a won or lost stage closes the deal (``closed_at``); a lost stage needs a
    ``lost_reason``. Moving back to an open stage reopens it. Moving to the stage it is
    already in changes nothing and records nothing.
    """
    deal = kit.load_for_update(Deal, org, deal, DEALS.label)
    errors = kit.Errors()
    target = kit.tenant_ref(Stage, org, stage, "stage", errors)
    reason = kit.clean_text(lost_reason) if lost_reason is not None else deal.lost_reason
    if not isinstance(reason, str):
        errors.add("lost_reason", "Expected text.")
    elif target is not None and target.kind == StageKind.LOST and not reason:
        errors.add("lost_reason", "Say why the deal was lost.")
    elif target is not None and target.kind != StageKind.LOST and lost_reason:
        errors.add("lost_reason", "Only a lost deal has a lost reason.")
    errors.raise_if_any()
    assert target is not None
    if target.pk == deal.stage_id and (target.kind != StageKind.LOST or reason == deal.lost_reason):
        return deal
    move(
        org=org, actor=actor, deal=deal, old=deal.stage, stage=target, lost_reason=reason, now=timezone.now()
    )
    return deal


@transaction.atomic
def deal_delete(*, org: Organization, actor: User | None, deal: Deal | int) -> None:
    kit.delete(DEALS, org=org, actor=actor, record=deal)
