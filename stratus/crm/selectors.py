"""Reads of CRM records, always inside one organization.

List selectors take ``filters``, the list's query parameters (a ``QueryDict`` such as
``request.GET``, or a mapping whose values may be typed: a saved segment), checked and
applied by the list's FilterSet (``stratus.crm.filters``: a value that makes no sense raises
``Invalid`` naming the filter), and an ``ordering`` (one of the keys of ``*_ORDERINGS``,
``-`` for descending). Their querysets are ordered by the named field(s) then ``id`` so
that keyset (cursor) pagination is exact. They prefetch the many-valued relations (tags, a
deal's contacts, a pipeline's stages) so serializing a page costs the same number of
queries for 1 and 50 rows; single-valued references (company, owner, ...) are left as ids,
which is what the API shows: a caller that displays the referenced rows adds
``select_related`` for them (loading them for every list made pages slower).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber

from stratus.accounts.models import Organization
from stratus.crm.errors import CrmCode, not_found
from stratus.crm.filters import (
    DEFAULT_ORDERING,
    ActivityFilterSet,
    CompanyFilterSet,
    ContactFilterSet,
    CustomFieldFilterSet,
    DealFilterSet,
    TimelineFilterSet,
)
from stratus.crm.models import (
    Activity,
    Company,
    Contact,
    CustomField,
    Deal,
    Pipeline,
    Stage,
    Tag,
    TimelineEntry,
)
from stratus.platform.errors import Invalid

M = TypeVar("M", bound=models.Model)

CONTACT_ORDERINGS: dict[str, tuple[str, ...]] = {
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "name": ("last_name", "first_name"),
}
COMPANY_ORDERINGS: dict[str, tuple[str, ...]] = {
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "name": ("name",),
}
DEAL_ORDERINGS: dict[str, tuple[str, ...]] = {
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "value": ("value",),
    "expected_close_date": ("expected_close_date",),
}
ACTIVITY_ORDERINGS: dict[str, tuple[str, ...]] = {
    "created_at": ("created_at",),
    "due_at": ("due_at",),
}

Filters = Mapping[str, Any]


def _ordered(
    queryset: QuerySet[M], ordering: str | None, orderings: Mapping[str, tuple[str, ...]]
) -> QuerySet[M]:
    ordering = ordering or DEFAULT_ORDERING
    descending = ordering.startswith("-")
    fields = orderings.get(ordering.lstrip("-"))
    if fields is None:
        allowed = ", ".join(sorted(orderings))
        raise Invalid(
            "Unknown ordering.",
            field_errors={"ordering": [f"Expected one of: {allowed} (prefix - for descending)."]},
            code=CrmCode.INVALID_FILTER,
        )
    prefix = "-" if descending else ""
    return queryset.order_by(*(f"{prefix}{f}" for f in (*fields, "id")))


def _key(pk: Any) -> int | None:
    """The id ``pk`` stands for (a row, a number, digits), or None."""
    if isinstance(pk, models.Model):
        return int(pk.pk)
    if isinstance(pk, int) and not isinstance(pk, bool):
        return pk
    if isinstance(pk, str) and pk.strip().isdigit():
        return int(pk)
    return None


def _get(queryset: QuerySet[M], org: Organization, pk: Any, label: str) -> M:
    key = _key(pk)
    found = queryset.filter(organization=org, pk=key).first() if key is not None else None
    if found is None:
        raise not_found(label)
    return found


# --- contacts -------------------------------------------------------------------------------------


def _with_tag_names(queryset: QuerySet[M], through: type[models.Model], column: str) -> QuerySet[M]:
    """Tag names for ``tag_names``: an array subquery on PostgreSQL (no second query, no
    per-row Python prefetch bookkeeping, which cost more than the page itself), else a prefetch.
    """
    if connection.vendor != "postgresql":
        return queryset.prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    # Written as SQL: the same subquery built with the ORM cost more to construct and compile
    # on every request than the database spends running it.
    sql = (
        f'ARRAY(SELECT t."name" FROM "{through._meta.db_table}" l '  # noqa: S608 - model metadata
        f'JOIN "{Tag._meta.db_table}" t ON t."id" = l."tag_id" '
        f'WHERE l."{column}" = "{queryset.model._meta.db_table}"."id" ORDER BY t."name")'
    )
    return queryset.annotate(_tag_names=RawSQL(sql, [], output_field=ArrayField(models.TextField())))  # noqa: S611


def tag_names(record: Contact | Company | Deal) -> list[str]:
    """The tag names of a record read by a selector, in name order, without a query."""
    names = getattr(record, "_tag_names", None)
    if names is not None:
        return list(names)
    return [tag.name for tag in record.tags.all()]


def _contacts(org: Organization) -> QuerySet[Contact]:
    return _with_tag_names(Contact.objects.filter(organization=org), Contact.tags.through, "contact_id")


def contact_list(
    *, org: Organization, filters: Filters | None = None, ordering: str | None = None
) -> QuerySet[Contact]:
    queryset = ContactFilterSet(filters, _contacts(org), org=org, ordering=ordering).qs
    return _ordered(queryset, ordering, CONTACT_ORDERINGS)


def contact_get(*, org: Organization, pk: Any) -> Contact:
    return _get(_contacts(org), org, pk, "Contact")


def contact_choices(*, org: Organization, ids: Collection[int] | None = None) -> QuerySet[Contact]:
    """The organization's contacts (only those of ``ids`` when given) by name, without their tags:
    the options of a contact select."""
    contacts = Contact.objects.filter(organization=org)
    if ids is not None:
        contacts = contacts.filter(pk__in=ids)
    return contacts.order_by("last_name", "first_name", "id")


def contact_segment(*, org: Organization, filters: Filters | None = None) -> QuerySet[Contact]:
    """The contacts a saved segment (a dict of contact list filters) selects, without related rows.

    For campaigns and exports: ``contact_segment(org=org, filters={"tags": ["vip"],
    "custom_fields.plan": "pro", "created_after": "2026-01-01", "has_email": True})``.
    """
    queryset = Contact.objects.filter(organization=org)
    return ContactFilterSet(filters, queryset, org=org).qs.order_by("id")


# --- companies ------------------------------------------------------------------------------------


def _companies(org: Organization) -> QuerySet[Company]:
    return _with_tag_names(Company.objects.filter(organization=org), Company.tags.through, "company_id")


def company_list(
    *, org: Organization, filters: Filters | None = None, ordering: str | None = None
) -> QuerySet[Company]:
    queryset = CompanyFilterSet(filters, _companies(org), org=org, ordering=ordering).qs
    return _ordered(queryset, ordering, COMPANY_ORDERINGS)


def company_get(*, org: Organization, pk: Any) -> Company:
    return _get(_companies(org), org, pk, "Company")


def company_choices(*, org: Organization) -> QuerySet[Company]:
    """The organization's companies by name, without their tags: the options of a company select."""
    return Company.objects.filter(organization=org).order_by("name", "id")


# --- pipelines ------------------------------------------------------------------------------------


def _pipelines(org: Organization) -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(organization=org).prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("position"))
    )


def pipeline_list(*, org: Organization) -> QuerySet[Pipeline]:
    return _pipelines(org).order_by("position", "id")


def pipeline_get(*, org: Organization, pk: Any) -> Pipeline:
    return _get(_pipelines(org), org, pk, "Pipeline")


def stage_get(*, org: Organization, pk: Any) -> Stage:
    return _get(Stage.objects.select_related("pipeline"), org, pk, "Stage")


def stage_list(*, org: Organization, pipeline_id: int | None = None) -> QuerySet[Stage]:
    """The organization's stages (only those of the pipeline ``pipeline_id`` when given), by position."""
    stages = Stage.objects.filter(organization=org)
    if pipeline_id is not None:
        stages = stages.filter(pipeline_id=pipeline_id)
    return stages.order_by("position", "id")


# --- deals ----------------------------------------------------------------------------------------


def _with_deal_tag_names(queryset: QuerySet[Deal]) -> QuerySet[Deal]:
    return _with_tag_names(queryset, Deal.tags.through, "deal_id")


def _deals(org: Organization) -> QuerySet[Deal]:
    queryset = _with_deal_tag_names(Deal.objects.filter(organization=org).select_related("stage"))
    if connection.vendor != "postgresql":
        return queryset.prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by("id")))
    ids = Deal.contacts.through.objects.filter(deal_id=OuterRef("pk")).order_by("contact_id")
    return queryset.annotate(_contact_ids=ArraySubquery(ids.values("contact_id")))


def contact_ids(deal: Deal) -> list[int]:
    """The ids of a deal's contacts (ascending) read by a selector, without a query."""
    ids = getattr(deal, "_contact_ids", None)
    if ids is not None:
        return list(ids)
    return [contact.pk for contact in deal.contacts.all()]


def deal_list(
    *, org: Organization, filters: Filters | None = None, ordering: str | None = None
) -> QuerySet[Deal]:
    queryset = DealFilterSet(filters, _deals(org), org=org, ordering=ordering).qs
    return _ordered(queryset, ordering, DEAL_ORDERINGS)


def deal_get(*, org: Organization, pk: Any) -> Deal:
    return _get(_deals(org), org, pk, "Deal")


# --- the search box ---------------------------------------------------------------------------


def contact_search(*, org: Organization, query: str, limit: int) -> list[Contact]:
    """The first ``limit`` contacts the list's search ``q`` finds, in the list's default order,
    without the list's per-row extras (tag names): the command palette shows none of them."""
    queryset = ContactFilterSet({"q": query}, Contact.objects.filter(organization=org), org=org).qs
    fields = ("id", "first_name", "last_name", "email")
    return list(_ordered(queryset, None, CONTACT_ORDERINGS).only(*fields)[:limit])


def company_search(*, org: Organization, query: str, limit: int) -> list[Company]:
    """Like ``contact_search``, for companies (id, name, domain)."""
    queryset = CompanyFilterSet({"q": query}, Company.objects.filter(organization=org), org=org).qs
    return list(_ordered(queryset, None, COMPANY_ORDERINGS).only("id", "name", "domain")[:limit])


def deal_search(*, org: Organization, query: str, limit: int) -> list[Deal]:
    """Like ``contact_search``, for deals (id, title, the stage's name; no tags, no contact ids)."""
    queryset = DealFilterSet({"q": query}, Deal.objects.filter(organization=org), org=org).qs
    ordered = _ordered(queryset.select_related("stage"), None, DEAL_ORDERINGS)
    return list(ordered.only("id", "title", "stage__name")[:limit])


# --- the pipeline board ---------------------------------------------------------------------------

BOARD_ORDERING = "-created_at"  # newest first, keyset on (created_at, id) like the deal list


@dataclass(frozen=True)
class StageTotal:
    """A board column's summary for a filter: how many deals and their value, per currency."""

    count: int = 0
    sums: tuple[tuple[str, decimal.Decimal], ...] = ()  # (currency, total), by currency code


def _board_deals(org: Organization, filters: Filters | None) -> QuerySet[Deal]:
    """The deal list's filters without its per-row extras (contact ids, tags): a summary needs none."""
    return DealFilterSet(filters, Deal.objects.filter(organization=org), org=org).qs


def _cards(queryset: QuerySet[Deal]) -> QuerySet[Deal]:
    """Deals as board cards: company, owner and tag names loaded."""
    return _with_deal_tag_names(queryset.select_related("company", "owner"))


def deal_stage_totals(
    *, org: Organization, pipeline: Pipeline, filters: Filters | None = None
) -> dict[int, StageTotal]:
    """Per stage of ``pipeline``: the number of deals matching ``filters`` and the sum of their
    values for each currency (amounts in different currencies are never added up). One grouped
    query for the whole board; a stage without deals is missing from the answer."""
    queryset = _board_deals(org, filters).filter(pipeline=pipeline)
    rows = (
        queryset.order_by()
        .values("stage_id", "currency")
        .annotate(deals=models.Count("id"), total=models.Sum("value"))
        .order_by("stage_id", "currency")
    )
    counts: dict[int, int] = {}
    sums: dict[int, list[tuple[str, decimal.Decimal]]] = {}
    for row in rows:
        counts[row["stage_id"]] = counts.get(row["stage_id"], 0) + row["deals"]
        sums.setdefault(row["stage_id"], []).append((row["currency"], row["total"]))
    return {stage: StageTotal(count=counts[stage], sums=tuple(sums[stage])) for stage in counts}


def deal_board(
    *, org: Organization, pipeline: Pipeline, filters: Filters | None = None, per_stage: int
) -> dict[int, list[Deal]]:
    """The first ``per_stage`` deals (``BOARD_ORDERING``) of every stage of ``pipeline`` that match
    ``filters``, in one query whatever the number of stages, with company, owner and tags loaded.

    On PostgreSQL each stage's first cards come from a ``LIMIT`` per stage (an index scan of
    ``crm_deal_org_stage`` that reads only the cards shown), so the query costs the same at 100
    or 200,000 deals in the pipeline; elsewhere a window over the pipeline's deals ranks them."""
    queryset = _board_deals(org, filters).filter(pipeline=pipeline)
    if connection.vendor == "postgresql":
        firsts = (
            queryset.filter(stage_id=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:per_stage]
        )
        shown = Stage.objects.filter(pipeline=pipeline).annotate(
            deal_id=models.Func(ArraySubquery(firsts), function="unnest")
        )
        ranked = queryset.filter(pk__in=shown.values("deal_id"))
    else:
        ranked = queryset.annotate(
            board_rank=models.Window(
                RowNumber(),
                partition_by=[models.F("stage_id")],
                order_by=[models.F("created_at").desc(), models.F("id").desc()],
            )
        ).filter(board_rank__lte=per_stage)
    ranked = _cards(ranked).order_by("stage_id", "-created_at", "-id")
    columns: dict[int, list[Deal]] = {}
    for deal in ranked:
        columns.setdefault(deal.stage_id, []).append(deal)
    return columns


def deal_board_column(
    *,
    org: Organization,
    stage: Stage,
    filters: Filters | None = None,
    after: int | None = None,
    limit: int,
) -> list[Deal]:
    """The next ``limit`` deals of one board column after the deal ``after`` (keyset, so a deal
    moved meanwhile never shifts the pages); an ``after`` that is not a deal of ``org`` gives none."""
    queryset = _ordered(_board_deals(org, filters), BOARD_ORDERING, DEAL_ORDERINGS).filter(stage=stage)
    if after is not None:
        cursor = Deal.objects.filter(organization=org, pk=after).values("created_at")[:1]
        queryset = queryset.filter(
            Q(created_at__lt=models.Subquery(cursor)) | Q(created_at=models.Subquery(cursor), id__lt=after)
        )
    return list(_cards(queryset)[:limit])


def deal_board_card(
    *, org: Organization, pipeline: Pipeline, filters: Filters | None = None, pk: int
) -> Deal | None:
    """The deal ``pk`` as a card of ``pipeline``'s board for ``filters``; None when it is not on
    that board (deleted, in another pipeline or organization, or filtered out)."""
    queryset = _board_deals(org, filters).filter(pipeline=pipeline, pk=pk)
    return _cards(queryset).first()


# --- activities -----------------------------------------------------------------------------------


def _activities(org: Organization) -> QuerySet[Activity]:
    return Activity.objects.filter(organization=org)


def activity_list(
    *, org: Organization, filters: Filters | None = None, ordering: str | None = None
) -> QuerySet[Activity]:
    queryset = ActivityFilterSet(filters, _activities(org), org=org, ordering=ordering).qs
    return _ordered(queryset, ordering, ACTIVITY_ORDERINGS)


def activity_get(*, org: Organization, pk: Any) -> Activity:
    return _get(_activities(org), org, pk, "Activity")


# --- names of records -----------------------------------------------------------------------------

Named = Company | Contact | Deal | Pipeline | Stage


def record_names(*, org: Organization, model: type[Named], ids: Collection[int]) -> dict[int, str]:
    """The names (``str``) of the ``model`` rows of ``ids`` in ``org``, by id; an id of another
    organization, or of nothing, is missing from the answer. One query."""
    return {row.pk: str(row) for row in model._default_manager.filter(organization=org, pk__in=ids)}


# --- custom fields, tags --------------------------------------------------------------------------


def custom_field_list(*, org: Organization, entity: str | None = None) -> QuerySet[CustomField]:
    fields = CustomField.objects.filter(organization=org)
    filters = None if entity is None else {"entity": entity}
    return CustomFieldFilterSet(filters, fields, org=org).qs.order_by("entity", "position", "id")


def custom_field_get(*, org: Organization, pk: Any) -> CustomField:
    return _get(CustomField.objects.all(), org, pk, "Custom field")


def tag_list(*, org: Organization) -> QuerySet[Tag]:
    return Tag.objects.filter(organization=org).order_by("name", "id")


def tag_get(*, org: Organization, pk: Any) -> Tag:
    return _get(Tag.objects.all(), org, pk, "Tag")


# --- timeline -------------------------------------------------------------------------------------


def _timeline(org: Organization) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.filter(organization=org).select_related("actor")


def timeline_list(*, org: Organization, filters: Filters | None = None) -> QuerySet[TimelineEntry]:
    """The organization's audit trail, newest first."""
    queryset = TimelineFilterSet(filters, _timeline(org), org=org).qs
    return queryset.order_by("-created_at", "-id")


def timeline_for_record(
    *,
    org: Organization,
    record: Contact | Company | Deal | Activity | Pipeline,
    before: tuple[datetime.datetime, int] | None = None,
) -> QuerySet[TimelineEntry]:
    """What happened to ``record`` and to what hangs under it (its activities), newest first;
    with ``before`` (the time and id of an entry), only the entries older than that one (keyset
    pages)."""
    if getattr(record, "organization_id", None) != org.pk:
        raise not_found("Record")
    kind = record._meta.model_name or ""
    condition = Q(target_type=kind, target_id=record.pk) | Q(parent_type=kind, parent_id=record.pk)
    if before is not None:
        moment, pk = before
        condition &= Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk)
    return _timeline(org).filter(condition).order_by("-created_at", "-id")
