"""Activities (tasks, calls, meetings, notes), each linked to one contact, company or deal."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from stratus.accounts.models import Organization, User
from stratus.crm import timeline
from stratus.crm.models import Activity, ActivityKind, Company, Contact, Deal
from stratus.crm.services import _kit as kit
from stratus.platform.unset import UNSET, Unset, given

ACTIVITY_SCALAR = ("kind", "subject", "body", "due_at", "done", "done_at")
ACTIVITY_REFS = ("assignee", "contact", "company", "deal")
ACTIVITY_TARGETS: tuple[tuple[str, type[Contact] | type[Company] | type[Deal]], ...] = (
    ("contact", Contact),
    ("company", Company),
    ("deal", Deal),
)


def _event_data(activity: Activity, action: str) -> Mapping[str, Any]:
    """Every event names the record the activity is linked to; ``created`` also its kind."""
    target = activity.target
    linked = {"target_type": timeline.target_type(target), "target_id": target.pk}
    return {"kind": activity.kind, **linked} if action == "created" else linked


ACTIVITIES = kit.Entity(
    model=Activity,
    label="Activity",
    event="activity",
    scalar=ACTIVITY_SCALAR,
    refs=ACTIVITY_REFS,
    event_data=_event_data,
)


def _apply(
    activity: Activity, org: Organization, data: Mapping[str, Any], creating: bool, errors: kit.Errors
) -> None:
    for name in ("kind", "subject", "body"):
        if name in data:
            setattr(activity, name, kit.clean_text(data[name]))
    if "due_at" in data:
        activity.due_at = data["due_at"]
    if "done" in data:
        if not isinstance(data["done"], bool):
            errors.add("done", "Expected true or false.")
        elif data["done"] and not activity.done:
            activity.done, activity.done_at = True, timezone.now()
        elif not data["done"]:
            activity.done, activity.done_at = False, None
    if "assignee" in data:
        activity.assignee = kit.member(org, data["assignee"], "assignee", errors)
    for name, model in ACTIVITY_TARGETS:
        if name in data:
            setattr(activity, name, kit.tenant_ref(model, org, data[name], name, errors))
    kit.clean_fields(
        activity, [n for n in ("kind", "subject", "body", "due_at") if n in data or creating], errors
    )
    if isinstance(activity.due_at, datetime.datetime) and timezone.is_naive(activity.due_at):
        errors.add("due_at", "Give a time zone (e.g. 2026-05-01T09:00:00Z).")
    linked = [name for name, _ in ACTIVITY_TARGETS if getattr(activity, f"{name}_id") is not None]
    if len(linked) != 1 and not any(name in errors.fields for name, _ in ACTIVITY_TARGETS):
        message = "Link the activity to exactly one contact, company or deal."
        for name in linked or [name for name, _ in ACTIVITY_TARGETS]:
            errors.add(name, message)


@transaction.atomic
def activity_create(
    *,
    org: Organization,
    actor: User | None,
    subject: str,
    kind: str | Unset = UNSET,
    body: str | Unset = UNSET,
    due_at: datetime.datetime | str | Unset | None = UNSET,
    done: bool | Unset = UNSET,
    assignee: User | int | Unset | None = UNSET,
    contact: Contact | int | Unset | None = UNSET,
    company: Company | int | Unset | None = UNSET,
    deal: Deal | int | Unset | None = UNSET,
) -> Activity:
    """An activity (a task unless ``kind`` says otherwise) on exactly one contact, company or deal."""
    data = given(
        subject=subject,
        kind=kind,
        body=body,
        due_at=due_at,
        done=done,
        assignee=assignee,
        contact=contact,
        company=company,
        deal=deal,
    )
    return kit.create(
        ACTIVITIES,
        org=org,
        actor=actor,
        record=Activity(organization=org, kind=ActivityKind.TASK),
        apply=lambda activity, errors: _apply(activity, org, data, True, errors),
    )


@transaction.atomic
def activity_update(
    *,
    org: Organization,
    actor: User | None,
    activity: Activity | int,
    subject: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    body: str | Unset = UNSET,
    due_at: datetime.datetime | str | Unset | None = UNSET,
    done: bool | Unset = UNSET,
    assignee: User | int | Unset | None = UNSET,
    contact: Contact | int | Unset | None = UNSET,
    company: Company | int | Unset | None = UNSET,
    deal: Deal | int | Unset | None = UNSET,
    expected_updated_at: datetime.datetime | None = None,
) -> Activity:
    """Change the fields given; ``done`` sets (or clears) ``done_at``.
    ``expected_updated_at``: the ``updated_at`` the caller read; when the record changed since,
    nothing is written (``Conflict``, ``CrmCode.STALE``)."""
    data = given(
        subject=subject,
        kind=kind,
        body=body,
        due_at=due_at,
        done=done,
        assignee=assignee,
        contact=contact,
        company=company,
        deal=deal,
    )
    return kit.update(
        ACTIVITIES,
        org=org,
        actor=actor,
        record=activity,
        apply=lambda found, errors: _apply(found, org, data, False, errors),
        expected_updated_at=expected_updated_at,
    ).record


@transaction.atomic
def activity_delete(*, org: Organization, actor: User | None, activity: Activity | int) -> None:
    kit.delete(ACTIVITIES, org=org, actor=actor, record=activity)
