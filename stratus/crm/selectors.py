"""Reads of CRM records, always inside one organization.

List selectors take a ``filters`` mapping (the same names the API accepts as query
parameters; values may be typed or strings) and an ``ordering`` (one of the keys of
``*_ORDERINGS``, ``-`` for descending). Their querysets are ordered by the named field(s)
then ``id`` so that keyset (cursor) pagination is exact. They prefetch the many-valued
relations (tags, a deal's contacts, a pipeline's stages) so serializing a page costs the
same number of queries for 1 and 50 rows; single-valued references (company, owner, ...)
are left as ids, which is what the API shows: a caller that displays the referenced
rows adds ``select_related`` for them (loading them for every list made pages slower).

Filter values that make no sense raise ``ApplicationError`` naming the filter.

Filters shared by contacts, companies and deals: ``owner`` (user id, list of ids, or
``none``), ``created_after``/``created_before``/``updated_after``/``updated_before``
(ISO date or date-time), ``q`` (search text), ``custom_fields`` (a mapping
``{key: value}``) or flat ``custom_fields.<key>`` with optional ``__gt``, ``__gte``,
``__lt``, ``__lte``, ``__in`` (comma-separated or a list), ``__isnull`` suffixes
(``custom_fields.FILTER_OPERATORS``; keys never contain ``__``).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from stratus.accounts.models import Organization
from stratus.crm import custom_fields as cf
from stratus.crm import rules, search
from stratus.crm.errors import not_found
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    CustomFieldEntity,
    Deal,
    Pipeline,
    Stage,
    StageKind,
    Tag,
    TimelineEntry,
)
from stratus.platform.errors import Invalid, NotFound

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
DEFAULT_ORDERING = "-created_at"
SEARCH_LIMIT = 50

FilterHandler = Callable[[Organization, Any], Q]


class _FilterError(Exception):
    pass


# --- value parsing --------------------------------------------------------------------------------


def _values(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return list(value)
    return [value]


def _int(value: Any) -> int:
    if isinstance(value, models.Model):
        return int(value.pk)
    if isinstance(value, bool):
        raise _FilterError("Expected an id.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise _FilterError("Expected an id.")


def _ids(value: Any) -> list[int]:
    ids = [_int(v) for v in _values(value)]
    if not ids:
        raise _FilterError("Expected an id.")
    return ids


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise _FilterError("Expected true or false.")


def _moment(value: Any, *, end_of_day: bool = False) -> datetime.datetime:
    """A date-time; a bare date means the start of that day (UTC), or the next day's start."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
        if end_of_day:
            moment += datetime.timedelta(days=1)
    elif isinstance(value, str):
        parsed = _parse_datetime(value.strip())
        if parsed is None:
            day = _parse_date(value.strip())
            if day is None:
                raise _FilterError("Expected an ISO date or date-time.")
            return _moment(day, end_of_day=end_of_day)
        moment = parsed
    else:
        raise _FilterError("Expected an ISO date or date-time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    try:
        # In UTC: PostgreSQL refuses some offsets that Python accepts (e.g. -19:57).
        return moment.astimezone(datetime.UTC)
    except OverflowError:
        raise _FilterError("Date-time out of range.") from None


def _parse_datetime(value: str) -> datetime.datetime | None:
    try:
        return parse_datetime(value.replace(" ", "+") if "T" in value else value)
    except ValueError:
        return None


def _parse_date(value: str) -> datetime.date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    parsed = _parse_date(value.strip()) if isinstance(value, str) else None
    if parsed is None:
        raise _FilterError("Expected an ISO date (YYYY-MM-DD).")
    return parsed


def _decimal(value: Any) -> decimal.Decimal:
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise _FilterError("Expected a number.") from None
    if not number.is_finite() or isinstance(value, bool):
        raise _FilterError("Expected a number.")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _FilterError("Expected text.")
    return value.strip()


def _domain(value: Any) -> str:
    """A domain filter matches however the domain is spelled (``https://www.Acme.example/``)."""
    text = _text(value)
    try:
        return rules.normalise_domain(text)
    except rules.RuleError:
        return text


# --- filter handlers ------------------------------------------------------------------------------


def _by_ids(field: str, nullable: bool = True) -> FilterHandler:
    def handler(org: Organization, value: Any) -> Q:
        if nullable and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return Q(**{f"{field}__isnull": True})
        ids = _ids(value)
        return Q(**{f"{field}_id__in": ids}) if len(ids) > 1 else Q(**{f"{field}_id": ids[0]})

    return handler


def _after(field: str) -> FilterHandler:
    return lambda org, value: Q(**{f"{field}__gte": _moment(value)})


def _before(field: str) -> FilterHandler:
    return lambda org, value: Q(**{f"{field}__lt": _moment(value, end_of_day=True)})


def _date_from(field: str) -> FilterHandler:
    return lambda org, value: Q(**{f"{field}__gte": _date(value)})


def _date_to(field: str) -> FilterHandler:
    return lambda org, value: Q(**{f"{field}__lte": _date(value)})


def _flag(field: str) -> FilterHandler:
    return lambda org, value: Q(**{field: _bool(value)})


def _choice(field: str, choices: Iterable[str]) -> FilterHandler:
    allowed = list(choices)

    def handler(org: Organization, value: Any) -> Q:
        picked = [_text(v) for v in _values(value)]
        if not picked or any(v not in allowed for v in picked):
            raise _FilterError(f"Expected one of: {', '.join(allowed)}.")
        return Q(**{f"{field}__in": picked})

    return handler


def _tags(through: type[models.Model], owner_column: str, *, every: bool) -> FilterHandler:
    """Records carrying every (or any) of the named tags, ignoring case.

    Tag names are resolved to ids first (one small query): with constant ids the planner
    estimates how common a tag is and can walk the list's index instead of sorting every
    tagged record.
    """

    def handler(org: Organization, value: Any) -> Q:
        names = [_text(v) for v in _values(value)]
        if not names or not all(names):
            raise _FilterError("Expected tag names.")
        wanted = {name.lower() for name in names}
        ids = dict(
            Tag.objects.annotate(key=Lower("name"))
            .filter(organization=org, key__in=wanted)
            .values_list("key", "pk")
        )
        tagged = through._default_manager.all()
        if not every:
            return Q(pk__in=tagged.filter(tag_id__in=list(ids.values())).values(owner_column))
        if len(ids) < len(wanted):
            return Q(pk__in=[])
        condition = Q()
        for tag_id in ids.values():
            condition &= Q(pk__in=tagged.filter(tag_id=tag_id).values(owner_column))
        return condition

    return handler


# Orderings by the searched text: a search's matches sit together in them (see search.matches).
TEXT_ORDERINGS = frozenset({"name"})


class _Search:
    """The ``q`` filter; its plan depends on the list's ordering."""

    def __init__(self, spec: search.SearchSpec) -> None:
        self.spec = spec

    def __call__(self, org: Organization, value: Any, ordering: str | None = None) -> Q:
        walk = (ordering or DEFAULT_ORDERING).lstrip("-") not in TEXT_ORDERINGS
        return search.matches(self.spec, _text(value), org.pk, walk=walk)


def _search(spec: search.SearchSpec) -> FilterHandler:
    return _Search(spec)


COMMON_FILTERS: dict[str, FilterHandler] = {
    "created_after": _after("created_at"),
    "created_before": _before("created_at"),
    "updated_after": _after("updated_at"),
    "updated_before": _before("updated_at"),
}

CONTACT_FILTERS: dict[str, FilterHandler] = {
    **COMMON_FILTERS,
    "owner": _by_ids("owner"),
    "company": _by_ids("company"),
    "tag": _tags(Contact.tags.through, "contact_id", every=True),
    "tags": _tags(Contact.tags.through, "contact_id", every=True),
    "tags_any": _tags(Contact.tags.through, "contact_id", every=False),
    "email": lambda org, value: Q(email__iexact=_text(value)),
    "has_email": lambda org, value: ~Q(email="") if _bool(value) else Q(email=""),
    "deal": lambda org, value: Q(
        pk__in=Deal.contacts.through.objects.filter(deal_id__in=_ids(value)).values("contact_id")
    ),
    "q": _search(search.CONTACT),
}
COMPANY_FILTERS: dict[str, FilterHandler] = {
    **COMMON_FILTERS,
    "owner": _by_ids("owner"),
    "tag": _tags(Company.tags.through, "company_id", every=True),
    "tags": _tags(Company.tags.through, "company_id", every=True),
    "tags_any": _tags(Company.tags.through, "company_id", every=False),
    "domain": lambda org, value: Q(domain__iexact=_domain(value)),
    "industry": lambda org, value: Q(industry__iexact=_text(value)),
    "country": lambda org, value: Q(country__in=[_text(v).upper() for v in _values(value)]),
    "q": _search(search.COMPANY),
}
DEAL_FILTERS: dict[str, FilterHandler] = {
    **COMMON_FILTERS,
    "owner": _by_ids("owner"),
    "company": _by_ids("company"),
    "pipeline": _by_ids("pipeline", nullable=False),
    "stage": _by_ids("stage", nullable=False),
    "status": _choice("stage__kind", StageKind.values),
    "contact": lambda org, value: Q(
        pk__in=Deal.contacts.through.objects.filter(contact_id__in=_ids(value)).values("deal_id")
    ),
    "value_min": lambda org, value: Q(value__gte=_decimal(value)),
    "value_max": lambda org, value: Q(value__lte=_decimal(value)),
    "currency": lambda org, value: Q(currency=_text(value).upper()),
    "expected_close_after": _date_from("expected_close_date"),
    "expected_close_before": _date_to("expected_close_date"),
    "closed_after": _after("closed_at"),
    "closed_before": _before("closed_at"),
    "q": _search(search.DEAL),
}
ACTIVITY_FILTERS: dict[str, FilterHandler] = {
    "created_after": _after("created_at"),
    "created_before": _before("created_at"),
    "kind": _choice("kind", ActivityKind.values),
    "done": _flag("done"),
    "assignee": _by_ids("assignee"),
    "contact": _by_ids("contact", nullable=False),
    "company": _by_ids("company", nullable=False),
    "deal": _by_ids("deal", nullable=False),
    "due_after": _after("due_at"),
    "due_before": _before("due_at"),
    "overdue": lambda org, value: (
        Q(done=False, due_at__lt=timezone.now())
        if _bool(value)
        else ~Q(done=False, due_at__lt=timezone.now())
    ),
    "q": lambda org, value: Q(subject__icontains=_text(value)) | Q(body__icontains=_text(value)),
}
TIMELINE_FILTERS: dict[str, FilterHandler] = {
    "created_after": _after("created_at"),
    "created_before": _before("created_at"),
    "actor": _by_ids("actor"),
    "action": lambda org, value: Q(action__in=[_text(v) for v in _values(value)]),
    "target_type": lambda org, value: Q(target_type__in=[_text(v) for v in _values(value)]),
    "target_id": lambda org, value: Q(target_id__in=_ids(value)),
}


def _custom_field_conditions(
    org: Organization, entity: str, filters: Mapping[str, Any], errors: dict[str, list[str]]
) -> Q:
    """Conditions on ``custom_fields`` values, checked and typed against their definitions."""
    wanted: list[tuple[str, str, str | None, Any]] = []  # (filter name, key, operator, value)
    nested = filters.get("custom_fields")
    if nested is not None:
        if not isinstance(nested, Mapping):
            errors["custom_fields"] = ["Expected an object mapping field keys to values."]
        else:
            for key, value in nested.items():
                wanted.append((f"custom_fields.{key}", str(key), "exact", value))
    for name, value in filters.items():
        if name.startswith("custom_fields."):
            key, operator = cf.split_filter_name(name.removeprefix("custom_fields."))
            wanted.append((name, key, operator, value))
    if not wanted:
        return Q()
    definitions = cf.definitions_for(org=org, entity=entity)
    condition = Q()
    for name, key, operator, value in wanted:
        if operator is None and name.removeprefix("custom_fields.") in definitions:
            key, operator = name.removeprefix("custom_fields."), "exact"  # a key older than the key rule
        definition = definitions.get(key)
        if definition is None:
            errors[name] = ["Unknown custom field."]
            continue
        if operator is None:
            errors[name] = [f"Unknown operator; use one of: {', '.join(cf.FILTER_OPERATORS)}."]
            continue
        try:
            if operator == "isnull":
                present = Q(custom_fields__has_key=key)
                condition &= ~present if _bool(value) else present
            elif operator == "in":
                typed = [
                    cf.coerce_value(definition.field_type, v, definition.choices) for v in _values(value)
                ]
                condition &= _custom_equals_any(key, typed)
            else:
                typed_value = cf.coerce_value(definition.field_type, value, definition.choices)
                if operator == "exact":
                    condition &= _custom_equals_any(key, [typed_value])
                else:
                    condition &= Q(**{f"custom_fields__{key}__{operator}": typed_value})
        except (cf.InvalidValue, _FilterError) as exc:
            errors[name] = [str(exc)]
    return condition


def _custom_equals_any(key: str, values: list[Any]) -> Q:
    condition = Q()
    for value in values:
        if connection.vendor == "postgresql":
            # ``@>`` is answered by the jsonb_path_ops GIN index.
            condition |= Q(custom_fields__contains={key: value})
        else:
            # The explicit ``__exact`` keeps a key named like a lookup (``gt``, ``contains``) a key.
            condition |= Q(**{f"custom_fields__{key}__exact": value})
    return condition


def _apply_filters(
    queryset: QuerySet[M],
    org: Organization,
    filters: Mapping[str, Any] | None,
    handlers: Mapping[str, FilterHandler],
    entity: str | None = None,
    ordering: str | None = None,
) -> QuerySet[M]:
    errors: dict[str, list[str]] = {}
    condition = Q()
    for name, value in (filters or {}).items():
        if name == "custom_fields" or name.startswith("custom_fields."):
            if entity is None:
                errors[name] = ["Unknown filter."]
            continue
        handler = handlers.get(name)
        if handler is None:
            errors[name] = ["Unknown filter."]
            continue
        if value is None and name not in ("owner", "company", "assignee"):
            continue
        try:
            condition &= (
                handler(org, value, ordering) if isinstance(handler, _Search) else handler(org, value)
            )
        except _FilterError as exc:
            errors[name] = [str(exc)]
    if entity is not None:
        condition &= _custom_field_conditions(org, entity, filters or {}, errors)
    if errors:
        raise Invalid("Some filters are invalid.", field_errors=errors, code="invalid_filter")
    return queryset.filter(condition) if condition else queryset  # no filter: no clone to build


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
            code="invalid_filter",
        )
    prefix = "-" if descending else ""
    return queryset.order_by(*(f"{prefix}{f}" for f in (*fields, "id")))


def ordering_fields(ordering: str | None, orderings: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The ``order_by`` fields (ending with id) an ordering name stands for, for cursor pagination."""
    ordering = ordering or DEFAULT_ORDERING
    prefix = "-" if ordering.startswith("-") else ""
    fields = orderings.get(ordering.lstrip("-"), ("created_at",))
    return tuple(f"{prefix}{f}" for f in (*fields, "id"))


def _get(queryset: QuerySet[M], org: Organization, pk: Any, label: str) -> M:
    try:
        key = _int(pk)
    except _FilterError:
        key = None
    found = queryset.filter(organization=org, pk=key).first() if key is not None else None
    if found is None:
        raise not_found(label)
    return found


def _ranked(
    queryset: QuerySet[M],
    org: Organization,
    spec: search.SearchSpec,
    query: str,
    limit: int,
    fallback: tuple[str, ...],
) -> QuerySet[M]:
    """The ``limit`` best search results; trigram-similar records when nothing matches directly."""
    found = queryset.filter(search.best(spec, query, org.pk, limit))
    if not search.is_ranked():
        return found.order_by(*fallback, "id")[:limit]
    score = search.rank(spec, query)
    similar = search.best_similar(spec, query, org.pk, limit)
    if similar is not None and not found.exists():
        found, score = queryset.filter(similar), search.rank(spec, query, similar=True)
    if score is None:
        return found.order_by(*fallback, "id")[:limit]
    return found.annotate(search_rank=score).order_by("-search_rank", "-id")[:limit]


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


def tag_names(record: Contact | Company) -> list[str]:
    """The tag names of a record read by a selector, in name order, without a query."""
    names = getattr(record, "_tag_names", None)
    if names is not None:
        return list(names)
    return [tag.name for tag in record.tags.all()]


def _contacts(org: Organization) -> QuerySet[Contact]:
    return _with_tag_names(Contact.objects.filter(organization=org), Contact.tags.through, "contact_id")


def contact_list(
    *, org: Organization, filters: Mapping[str, Any] | None = None, ordering: str | None = None
) -> QuerySet[Contact]:
    queryset = _apply_filters(
        _contacts(org), org, filters, CONTACT_FILTERS, CustomFieldEntity.CONTACT, ordering
    )
    return _ordered(queryset, ordering, CONTACT_ORDERINGS)


def contact_get(*, org: Organization, pk: Any) -> Contact:
    return _get(_contacts(org), org, pk, "Contact")


def contact_search(
    *, org: Organization, query: str, filters: Mapping[str, Any] | None = None, limit: int = SEARCH_LIMIT
) -> QuerySet[Contact]:
    """The best ``limit`` matches for ``query``, most relevant first (PostgreSQL; by name elsewhere)."""
    queryset = _apply_filters(_contacts(org), org, filters, CONTACT_FILTERS, CustomFieldEntity.CONTACT)
    return _ranked(queryset, org, search.CONTACT, query, limit, ("last_name", "first_name"))


def contact_segment(*, org: Organization, filters: Mapping[str, Any] | None = None) -> QuerySet[Contact]:
    """The contacts a saved segment (a dict of contact list filters) selects, without related rows.

    For campaigns and exports: ``contact_segment(org=org, filters={"tags": ["vip"],
    "custom_fields.plan": "pro", "created_after": "2026-01-01", "has_email": True})``.
    """
    queryset = Contact.objects.filter(organization=org)
    return _apply_filters(queryset, org, filters, CONTACT_FILTERS, CustomFieldEntity.CONTACT).order_by("id")


def record_filter(
    *, org: Organization, entity: str, filters: Mapping[str, Any] | None = None
) -> QuerySet[Any]:
    """The companies, contacts or deals (``entity``) that ``filters`` select, ordered by id."""
    models_and_filters: dict[str, tuple[type[models.Model], Mapping[str, FilterHandler]]] = {
        CustomFieldEntity.CONTACT: (Contact, CONTACT_FILTERS),
        CustomFieldEntity.COMPANY: (Company, COMPANY_FILTERS),
        CustomFieldEntity.DEAL: (Deal, DEAL_FILTERS),
    }
    if entity not in models_and_filters:
        raise Invalid("Unknown record type.", field_errors={"entity": ["Expected contact, company or deal."]})
    model, handlers = models_and_filters[entity]
    queryset = model._default_manager.filter(organization=org)
    return _apply_filters(queryset, org, filters, handlers, entity).order_by("id")


# --- companies ------------------------------------------------------------------------------------


def _companies(org: Organization) -> QuerySet[Company]:
    return _with_tag_names(Company.objects.filter(organization=org), Company.tags.through, "company_id")


def company_list(
    *, org: Organization, filters: Mapping[str, Any] | None = None, ordering: str | None = None
) -> QuerySet[Company]:
    queryset = _apply_filters(
        _companies(org), org, filters, COMPANY_FILTERS, CustomFieldEntity.COMPANY, ordering
    )
    return _ordered(queryset, ordering, COMPANY_ORDERINGS)


def company_get(*, org: Organization, pk: Any) -> Company:
    return _get(_companies(org), org, pk, "Company")


def company_search(
    *, org: Organization, query: str, filters: Mapping[str, Any] | None = None, limit: int = SEARCH_LIMIT
) -> QuerySet[Company]:
    queryset = _apply_filters(_companies(org), org, filters, COMPANY_FILTERS, CustomFieldEntity.COMPANY)
    return _ranked(queryset, org, search.COMPANY, query, limit, ("name",))


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


def pipeline_default(*, org: Organization) -> Pipeline | None:
    return _pipelines(org).filter(is_default=True).first()


# --- deals ----------------------------------------------------------------------------------------


def _deals(org: Organization) -> QuerySet[Deal]:
    queryset = Deal.objects.filter(organization=org).select_related("stage")
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
    *, org: Organization, filters: Mapping[str, Any] | None = None, ordering: str | None = None
) -> QuerySet[Deal]:
    queryset = _apply_filters(_deals(org), org, filters, DEAL_FILTERS, CustomFieldEntity.DEAL, ordering)
    return _ordered(queryset, ordering, DEAL_ORDERINGS)


def deal_get(*, org: Organization, pk: Any) -> Deal:
    return _get(_deals(org), org, pk, "Deal")


def deal_search(
    *, org: Organization, query: str, filters: Mapping[str, Any] | None = None, limit: int = SEARCH_LIMIT
) -> QuerySet[Deal]:
    queryset = _apply_filters(_deals(org), org, filters, DEAL_FILTERS, CustomFieldEntity.DEAL)
    return _ranked(queryset, org, search.DEAL, query, limit, ("title",))


# --- activities -----------------------------------------------------------------------------------


def _activities(org: Organization) -> QuerySet[Activity]:
    return Activity.objects.filter(organization=org)


def activity_list(
    *, org: Organization, filters: Mapping[str, Any] | None = None, ordering: str | None = None
) -> QuerySet[Activity]:
    queryset = _apply_filters(_activities(org), org, filters, ACTIVITY_FILTERS)
    return _ordered(queryset, ordering, ACTIVITY_ORDERINGS)


def activity_get(*, org: Organization, pk: Any) -> Activity:
    return _get(_activities(org), org, pk, "Activity")


# --- custom fields, tags --------------------------------------------------------------------------


def custom_field_list(*, org: Organization, entity: str | None = None) -> QuerySet[CustomField]:
    queryset = CustomField.objects.filter(organization=org)
    if entity is not None:
        if entity not in CustomFieldEntity.values:
            raise Invalid(
                "Unknown record type.",
                field_errors={"entity": [f"Expected one of: {', '.join(CustomFieldEntity.values)}."]},
                code="invalid_filter",
            )
        queryset = queryset.filter(entity=entity)
    return queryset.order_by("entity", "position", "id")


def custom_field_get(*, org: Organization, pk: Any) -> CustomField:
    return _get(CustomField.objects.all(), org, pk, "Custom field")


def tag_list(*, org: Organization) -> QuerySet[Tag]:
    return Tag.objects.filter(organization=org).order_by("name", "id")


# --- timeline -------------------------------------------------------------------------------------


def _timeline(org: Organization) -> QuerySet[TimelineEntry]:
    return TimelineEntry.objects.filter(organization=org).select_related("actor")


def timeline_list(*, org: Organization, filters: Mapping[str, Any] | None = None) -> QuerySet[TimelineEntry]:
    """The organization's audit trail, newest first."""
    queryset = _apply_filters(_timeline(org), org, filters, TIMELINE_FILTERS)
    return queryset.order_by("-created_at", "-id")


def timeline_for_record(
    *, org: Organization, record: Contact | Company | Deal | Activity | Pipeline
) -> QuerySet[TimelineEntry]:
    """What happened to ``record`` and to what hangs under it (its activities), newest first."""
    if getattr(record, "organization_id", None) != org.pk:
        raise NotFound("Record not found.", code="not_found")
    kind = record._meta.model_name or ""
    condition = Q(target_type=kind, target_id=record.pk) | Q(parent_type=kind, parent_id=record.pk)
    return _timeline(org).filter(condition).order_by("-created_at", "-id")
