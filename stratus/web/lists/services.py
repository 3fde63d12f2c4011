"""Writes for the list pages: saved views, default views, bulk edits and deletes.

A bulk action on a few rows runs in the request; on more than ``BULK_INLINE_LIMIT`` rows it is
a ``BulkJob`` row run by a worker in committed chunks that report progress as live events
(``bulk.progress``). Each record goes through the CRM service the API uses for it, so every
rule and timeline entry is the same as a one-by-one edit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.crm import rules
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.custom_fields import definitions_for
from stratus.platform.errors import ApplicationError, Forbidden, Invalid, NotFound
from stratus.realtime.events import publish
from stratus.web.lists import state
from stratus.web.lists.specs import SPECS, ListSpec
from stratus.web.models import BulkAction, BulkJob, BulkState, DefaultView, SavedView

logger = logging.getLogger(__name__)

BULK_INLINE_LIMIT = 200
BULK_CHUNK = 100
BULK_MAX_IDS = 10_000
NAME_MAX = 80
KEPT_ERRORS = 20
BULK_STALE_AFTER = 300  # seconds without a committed chunk before a running job is queued again


def _spec(kind: str) -> ListSpec:
    spec = SPECS.get(kind)
    if spec is None:
        raise NotFound("Unknown list.", code="not_found")
    return spec


def _role(org: Organization, user: User) -> Membership:
    membership = Membership.objects.filter(organization=org, user=user).first()
    if membership is None:
        raise Forbidden("You are not a member of this organization.", code="forbidden")
    return membership


# --- saved views ----------------------------------------------------------------------------------


def check_list_view(
    spec: ListSpec,
    org: Organization,
    errors: dict[str, list[str]],
    *,
    filters: Mapping[str, Any],
    ordering: Any,
    columns: Any,
) -> tuple[dict[str, Any], str, list[str]]:
    """A list's state (filters, sort, columns) as a saved view or an export keeps it: the clean
    filters, ordering and column keys; each problem goes into ``errors`` under its field. The
    filters are checked the way the list (and the API) applies them."""
    clean_filters = state.filters_of(filters)
    clean_ordering = ordering if isinstance(ordering, str) else ""
    if clean_ordering:
        _, problem = state.check_ordering(spec, clean_ordering)
        if problem:
            errors["ordering"] = [problem]
    keys = state.column_keys(columns if isinstance(columns, list | tuple) else [])
    definitions = definitions_for(org=org, entity=spec.entity).values() if spec.entity else ()
    _, column_errors = state.check_columns(keys, state.available_columns(spec, definitions))
    if column_errors:
        errors["columns"] = column_errors
    if "ordering" not in errors:
        try:
            spec.list_selector(org=org, filters=clean_filters, ordering=clean_ordering or None)
        except Invalid as refused:
            errors["filters"] = [
                f"{field}: {message}"
                for field, messages in refused.field_errors.items()
                for message in messages
            ] or [refused.message]
    return clean_filters, clean_ordering, keys


def _check_view(
    spec: ListSpec,
    org: Organization,
    *,
    name: Any,
    filters: Any,
    ordering: Any,
    columns: Any,
) -> tuple[str, dict[str, Any], str, list[str]]:
    errors: dict[str, list[str]] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = ["Give the view a name."]
    elif len(clean_name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters."]
    if not isinstance(filters, Mapping):
        errors["filters"] = ["Expected the list's filters."]
        filters = {}
    clean_filters, clean_ordering, keys = check_list_view(
        spec, org, errors, filters=filters, ordering=ordering, columns=columns
    )
    if errors:
        raise Invalid("The view cannot be saved.", field_errors=errors, code="invalid")
    return clean_name, clean_filters, clean_ordering, keys


@transaction.atomic
def saved_view_save(
    *,
    org: Organization,
    actor: User,
    kind: str,
    name: Any,
    filters: Any,
    ordering: Any = "",
    columns: Any = (),
    shared: bool = False,
    make_default: bool = False,
    view: SavedView | int | None = None,
) -> SavedView:
    """Create (or, with ``view``, change) a saved view of the ``kind`` list.

    Only its owner changes a view; sharing with the organization needs a member's role.
    """
    spec = _spec(kind)
    membership = _role(org, actor)
    clean_name, clean_filters, clean_ordering, keys = _check_view(
        spec, org, name=name, filters=filters, ordering=ordering, columns=columns
    )
    if shared and not membership.has_role(Role.MEMBER):
        raise Invalid(
            "Viewers cannot share views.",
            field_errors={"shared": ["Viewers keep their views to themselves."]},
            code="invalid",
        )
    if view is None:
        saved = SavedView(organization=org, owner=actor, kind=spec.kind)
    else:
        pk = view.pk if isinstance(view, SavedView) else view
        found = SavedView.objects.select_for_update().filter(organization=org, owner=actor, pk=pk).first()
        if found is None:
            raise NotFound("View not found.", code="not_found")
        saved = found
    saved.name, saved.filters, saved.ordering, saved.columns = clean_name, clean_filters, clean_ordering, keys
    saved.shared = bool(shared)
    saved.updated_at = timezone.now()
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError:
        raise Invalid(
            "A view with this name exists.",
            field_errors={"name": ["You already have a view with this name."]},
            code="conflict",
        ) from None
    if make_default:
        default_view_set(org=org, actor=actor, kind=spec.kind, view=saved)
    return saved


@transaction.atomic
def saved_view_delete(*, org: Organization, actor: User, view: SavedView | int) -> None:
    pk = view.pk if isinstance(view, SavedView) else view
    deleted, _ = SavedView.objects.filter(organization=org, owner=actor, pk=pk).delete()
    if not deleted:
        raise NotFound("View not found.", code="not_found")


@transaction.atomic
def default_view_set(*, org: Organization, actor: User, kind: str, view: SavedView | int | None) -> None:
    """The view ``actor``'s ``kind`` list opens with (their own or a shared one); None: none."""
    spec = _spec(kind)
    if view is None:
        DefaultView.objects.filter(organization=org, user=actor, kind=spec.kind).delete()
        return
    from stratus.web.lists.selectors import saved_view_get

    chosen = saved_view_get(org=org, user=actor, pk=view.pk if isinstance(view, SavedView) else view)
    if chosen.kind != spec.kind:
        raise Invalid("This view belongs to another list.", field_errors={"view": ["Another list's view."]})
    DefaultView.objects.update_or_create(
        organization=org, user=actor, kind=spec.kind, defaults={"view": chosen}
    )


# --- bulk actions ---------------------------------------------------------------------------------


def _owner_field(spec: ListSpec) -> str:
    return "assignee" if spec.record_argument == "activity" else "owner"


def _check_value(spec: ListSpec, org: Organization, action: str, value: Any) -> Any:
    if action not in spec.bulk_actions:
        raise Invalid(
            "Not available on this list.", field_errors={"action": ["Choose an action of this list."]}
        )
    if action == BulkAction.OWNER:
        if value in (None, "", "none"):
            return None
        pk = int(value) if str(value).isdigit() else None
        if pk is None or not Membership.objects.filter(organization=org, user_id=pk).exists():
            raise Invalid("Unknown member.", field_errors={"owner": ["No member of this organization."]})
        return pk
    if action == BulkAction.TAGS:
        names = [n.strip() for n in value.split(",")] if isinstance(value, str) else value
        try:
            names = rules.tag_names([n for n in names or [] if n])
        except rules.RuleError as problem:
            raise Invalid(problem.message, field_errors={"tags": [problem.message]}) from None
        if not names:
            raise Invalid("Name the tags to add.", field_errors={"tags": ["Name the tags to add."]})
        return names
    if action == BulkAction.STAGE:
        try:
            return crm_selectors.stage_get(org=org, pk=value).pk
        except NotFound:
            raise Invalid("Unknown stage.", field_errors={"stage": ["Choose a stage."]}) from None
    return None


def bulk_job_create(
    *,
    org: Organization,
    actor: User,
    kind: str,
    action: str,
    value: Any = None,
    ids: Sequence[int] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> BulkJob:
    """A bulk ``action`` on the chosen ``ids``, or (ids None) on every row ``filters`` select.

    Up to ``BULK_INLINE_LIMIT`` rows it runs now; more are left to a worker (see bulk_run).
    """
    from stratus.celery import enqueue_on_commit
    from stratus.web import tasks

    spec = _spec(kind)
    if not _role(org, actor).has_role(Role.MEMBER):
        raise Forbidden("Viewers cannot change records.", code="forbidden")
    clean_value = _check_value(spec, org, action, value)
    clean_filters = state.filters_of(filters or {})
    if ids is not None:
        chosen = sorted({int(i) for i in ids})
        if not chosen:
            raise Invalid("Choose some rows.", field_errors={"ids": ["Choose some rows."]})
        if len(chosen) > BULK_MAX_IDS:
            raise Invalid(
                "Too many rows chosen.",
                field_errors={"ids": [f"At most {BULK_MAX_IDS}; use “select all matching”."]},
            )
        total = len(chosen)
    else:
        chosen = None
        # Counted no further than the limit here: a job on more rows is counted by its worker.
        matching = spec.list_selector(org=org, filters=clean_filters).order_by().values("pk")
        total = matching[: BULK_INLINE_LIMIT + 1].count()
    with transaction.atomic():
        job = BulkJob.objects.create(
            organization=org,
            created_by=actor,
            kind=spec.kind,
            action=action,
            value=clean_value,
            ids=chosen,
            filters=clean_filters,
            total=total,
        )
        if total > BULK_INLINE_LIMIT:
            if chosen is None:
                BulkJob.objects.filter(pk=job.pk).update(total=None)
            enqueue_on_commit(tasks.bulk_run, job.pk)
    if total <= BULK_INLINE_LIMIT:
        bulk_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _apply(spec: ListSpec, job: BulkJob, record: Any, actor: User | None) -> None:
    org = job.organization
    target = {spec.record_argument: record.pk}
    if job.action == BulkAction.DELETE:
        spec.delete_service(org=org, actor=actor, **target)
    elif job.action == BulkAction.OWNER:
        spec.update_service(org=org, actor=actor, **target, **{_owner_field(spec): job.value})
    elif job.action == BulkAction.TAGS:
        current = crm_selectors.tag_names(record)
        known = {name.lower() for name in current}
        added = [name for name in job.value or [] if name.lower() not in known]
        if added:
            spec.update_service(org=org, actor=actor, **target, tags=[*current, *added])
    elif job.action == BulkAction.STAGE:
        stage = job.value
        assert isinstance(stage, int), "checked by _check_value"
        crm_services.deal_move(org=org, actor=actor, deal=record.pk, stage=stage)


def bulk_run(*, job_id: int) -> str:
    """Run (or resume) a bulk job chunk by chunk; each chunk commits with the job's counters."""
    job = BulkJob.objects.select_related("organization", "created_by").filter(pk=job_id).first()
    if job is None or job.state in (BulkState.DONE, BulkState.FAILED):
        return job.state if job else "missing"
    spec = SPECS[job.kind]
    if job.total is None:
        total = spec.list_selector(org=job.organization, filters=job.filters).order_by().values("pk").count()
        BulkJob.objects.filter(pk=job.pk, total__isnull=True).update(total=total)
    while True:
        with transaction.atomic():
            current = BulkJob.objects.select_for_update().get(pk=job.pk)
            if current.state in (BulkState.DONE, BulkState.FAILED):
                return current.state
            queryset = spec.list_selector(
                org=job.organization, filters=None if current.ids else current.filters
            )
            if current.ids is not None:
                queryset = queryset.filter(pk__in=[i for i in current.ids if i > current.last_id])
            rows = list(queryset.filter(pk__gt=current.last_id).order_by("pk")[:BULK_CHUNK])
            for record in rows:
                try:
                    _apply(spec, current, record, job.created_by)
                    current.done += 1
                except ApplicationError as refused:
                    current.failed += 1
                    if len(current.errors) < KEPT_ERRORS:
                        messages = [m for ms in refused.field_errors.values() for m in ms] or [
                            refused.message
                        ]
                        current.errors.append([record.pk, str(record), " ".join(messages)])
                current.last_id = record.pk
            finished = len(rows) < BULK_CHUNK
            if finished:
                # Chosen ids that are gone (deleted meanwhile, or another organization's) count as refused.
                if current.ids is not None and current.total is not None:
                    current.failed = max(current.failed, current.total - current.done)
                current.state = BulkState.DONE
                current.finished_at = timezone.now()
            else:
                current.state = BulkState.RUNNING
            current.heartbeat_at = timezone.now()
            current.save()
            publish(
                organization_id=current.organization_id,
                event="bulk.progress",
                data={
                    "id": current.pk,
                    "kind": current.kind,
                    "state": current.state,
                    "total": current.total,
                    "done": current.done,
                    "failed": current.failed,
                },
                user_id=current.created_by_id,
            )
        if finished:
            return str(current.state)


def bulk_jobs_sweep(*, now: datetime | None = None) -> list[int]:
    """Queue again bulk jobs whose message was lost or whose worker went silent."""
    from stratus.web import tasks

    now = now or timezone.now()
    waiting = list(
        BulkJob.objects.filter(state=BulkState.QUEUED, created_at__lt=now - timedelta(seconds=30))
        .values_list("pk", flat=True)
        .union(
            BulkJob.objects.filter(
                state=BulkState.RUNNING, heartbeat_at__lt=now - timedelta(seconds=BULK_STALE_AFTER)
            ).values_list("pk", flat=True)
        )
    )
    for job_id in waiting:
        try:
            tasks.bulk_run.apply_async(args=(job_id,))
        except Exception:
            logger.warning("could not enqueue bulk job %s; the next sweep retries", job_id, exc_info=True)
    return waiting
