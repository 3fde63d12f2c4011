"""The filters of the CRM's lists, declared once per list as a django-filter FilterSet.

A FilterSet is what a list accepts: the selectors build their querysets with it, the API
documents its parameters from it (``stratus.crm.api.filter_parameters``) and the browser
app renders its filter controls from its form. Values may be query-parameter text (a
``QueryDict``: a repeated parameter means several values, an empty one filters nothing,
the paging parameters are left to the pagination) or typed values (a saved segment's
``{"tags": ["vip"], "has_email": true}``).

Each filter carries the JSON schema of its query parameter (``schema``) and its
description (``help_text``). A value that makes no sense, or a name no filter has, raises
``Invalid`` (400) naming the parameter.

Filters shared by contacts, companies and deals: ``owner`` (user id, list of ids, or
``none``), ``created_after``/``created_before``/``updated_after``/``updated_before`` (ISO
date or date-time), ``q`` (search text, see ``stratus.crm.search``), and the custom fields
of their record type: ``custom_fields`` (a mapping ``{key: value}``) or flat
``custom_fields.<key>`` with optional ``__gt``, ``__gte``, ``__lt``, ``__lte``, ``__in``
(comma-separated or a list), ``__isnull`` suffixes (``custom_fields.FILTER_OPERATORS``;
keys never contain ``__``).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import django_filters
from django import forms
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from stratus.accounts.models import Organization
from stratus.api.views import query_values
from stratus.crm import custom_fields as cf
from stratus.crm import rules, search
from stratus.crm.errors import CrmCode
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    CustomFieldEntity,
    Deal,
    Stage,
    StageKind,
    Tag,
    TimelineEntry,
)
from stratus.platform.errors import Invalid

M = TypeVar("M", bound=models.Model)

DEFAULT_ORDERING = "-created_at"
# Orderings by the searched text: a search's matches sit together in them (see search.matches).
TEXT_ORDERINGS = frozenset({"name"})

# --- the schemas of the query parameters ----------------------------------------------------------

IDS = {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$"}
IDS_OR_NONE = {"type": "string", "pattern": r"^(none|null|[0-9]+(,[0-9]+)*)$"}
FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}
TEXT = {"type": "string"}
# Comma-separated names, not all blank.
TAG_NAMES = {"type": "string", "pattern": r"^[^\x00]*[^\s,\x00][^\x00]*$"}
DECIMAL = {"type": "string", "pattern": r"^-?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})$"}
# Days valid in every year (February 29 aside).
_DAY = r"[12][0-9]{3}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
DAY = {"type": "string", "description": "ISO 8601 date", "pattern": f"^{_DAY}$"}
MOMENT = {
    "type": "string",
    "description": "ISO 8601 date or date-time",
    "pattern": (
        f"^{_DAY}"
        r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
    ),
}


def _choices_schema(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


# --- values: text from a query string, or typed --------------------------------------------------


class _Null:
    """``owner=none``: records without one."""

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()
NULL_WORDS = ("none", "null")


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
        raise forms.ValidationError("Expected an id.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise forms.ValidationError("Expected an id.")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise forms.ValidationError("Expected true or false.")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise forms.ValidationError("Expected text.")
    return value.strip()


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
                raise forms.ValidationError("Expected an ISO date or date-time.")
            return _moment(day, end_of_day=end_of_day)
        moment = parsed
    else:
        raise forms.ValidationError("Expected an ISO date or date-time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    try:
        # In UTC: PostgreSQL refuses some offsets that Python accepts (e.g. -19:57).
        return moment.astimezone(datetime.UTC)
    except OverflowError:
        raise forms.ValidationError("Date-time out of range.") from None


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    parsed = _parse_date(value.strip()) if isinstance(value, str) else None
    if parsed is None:
        raise forms.ValidationError("Expected an ISO date (YYYY-MM-DD).")
    return parsed


def _decimal(value: Any) -> decimal.Decimal:
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise forms.ValidationError("Expected a number.") from None
    if not number.is_finite() or isinstance(value, bool):
        raise forms.ValidationError("Expected a number.")
    return number


# --- form fields: each parses one filter's value --------------------------------------------------


class ValueField(forms.Field):
    """A filter's form field: ``parse`` reads the value given (text or typed) or raises
    ``ValidationError`` with the message the API shows; an absent value filters nothing."""

    widget: type[forms.Widget] | forms.Widget = forms.TextInput

    def to_python(self, value: Any) -> Any:
        return None if value is None else self.parse(value)

    def parse(self, value: Any) -> Any:
        return value


class IdsField(ValueField):
    """Ids (one, comma-separated or a list); with ``nullable``, ``none`` for records without one."""

    def __init__(self, *, nullable: bool = False, **kwargs: Any) -> None:
        self.nullable = nullable
        super().__init__(**kwargs)

    def parse(self, value: Any) -> list[int] | _Null:
        if self.nullable and (value is NULL or (isinstance(value, str) and value.lower() in NULL_WORDS)):
            return NULL
        ids = [_int(v) for v in _values(value)]
        if not ids:
            raise forms.ValidationError("Expected an id.")
        return ids


class MomentField(ValueField):
    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def parse(self, value: Any) -> datetime.datetime:
        return _moment(value, end_of_day=self.end_of_day)


class DayField(ValueField):
    def parse(self, value: Any) -> datetime.date:
        return _date(value)


class FlagField(ValueField):
    widget = forms.Select(choices=[("", "-"), ("true", "Yes"), ("false", "No")])

    def parse(self, value: Any) -> bool:
        return _bool(value)


class DecimalValueField(ValueField):
    def parse(self, value: Any) -> decimal.Decimal:
        return _decimal(value)


class TextField(ValueField):
    def parse(self, value: Any) -> str:
        return _text(value)


class TextListField(ValueField):
    def parse(self, value: Any) -> list[str]:
        return [_text(v) for v in _values(value)]


class ChoicesField(ValueField):
    """One or more of ``choices`` (comma-separated or a list)."""

    widget = forms.SelectMultiple

    def __init__(self, *, choices: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(**kwargs)
        self.widget.choices = self.choices

    def parse(self, value: Any) -> list[str]:
        allowed = [value for value, _label in self.choices]
        picked = [_text(v) for v in _values(value)]
        if not picked or any(v not in allowed for v in picked):
            raise forms.ValidationError(f"Expected one of: {', '.join(allowed)}.")
        return picked


class TagNamesField(ValueField):
    def parse(self, value: Any) -> list[str]:
        names = [_text(v) for v in _values(value)]
        if not names or not all(names):
            raise forms.ValidationError("Expected tag names.")
        return names


# --- filters: a form field, a schema and the condition a value stands for ------------------------


class ValueFilter(django_filters.Filter):
    """One query parameter of a list.

    ``schema`` is its JSON schema in the API's documentation, ``help_text`` its description,
    ``label`` the browser's control label. ``condition(value)`` is the ``Q`` the parsed value
    stands for in the FilterSet ``filters`` (its organization, its ordering); ``where`` names a
    method of the FilterSet that builds it instead. Filters are declared once per FilterSet
    class and shared by its instances: they keep nothing of one query.
    """

    field_class: type[ValueField] = ValueField
    schema: dict[str, Any] = TEXT

    def __init__(
        self,
        field_name: str | None = None,
        lookup_expr: str = "exact",
        *,
        schema: Any = None,
        where: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(field_name, lookup_expr, **kwargs)
        if schema is not None:
            self.schema = schema
        self.where = where

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        if self.where:
            built: Q = getattr(filters, self.where)(value)
            return built
        return Q(**{f"{self.field_name}__{self.lookup_expr}": value})


class IdFilter(ValueFilter):
    """Records referring to one of the ids (``field_name`` is the id column); ``none`` when nullable."""

    field_class = IdsField

    def __init__(self, field_name: str | None = None, *, nullable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("schema", IDS_OR_NONE if nullable else IDS)
        super().__init__(field_name, nullable=nullable, **kwargs)

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        if self.where:
            return super().condition(value, filters)
        if value is NULL:
            return Q(**{f"{self.field_name}__isnull": True})
        return Q(**{f"{self.field_name}__in": value}) if len(value) > 1 else Q(**{self.field_name: value[0]})


class MomentFilter(ValueFilter):
    """At or after (``gte``) or before (``lt``: a bare date counts its whole day) a moment."""

    field_class = MomentField
    schema = MOMENT

    def __init__(self, field_name: str | None = None, lookup_expr: str = "gte", **kwargs: Any) -> None:
        super().__init__(field_name, lookup_expr, end_of_day=lookup_expr == "lt", **kwargs)


class DayFilter(ValueFilter):
    field_class = DayField
    schema = DAY


class FlagFilter(ValueFilter):
    field_class = FlagField
    schema = FLAG


class DecimalFilter(ValueFilter):
    field_class = DecimalValueField
    schema = DECIMAL


class TextFilter(ValueFilter):
    """Text compared with ``lookup_expr`` after ``normalise`` (e.g. upper-case codes)."""

    field_class: type[ValueField] = TextField

    def __init__(
        self,
        field_name: str | None = None,
        lookup_expr: str = "exact",
        *,
        normalise: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(field_name, lookup_expr, **kwargs)
        self.normalise = normalise

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        return super().condition(self.normalise(value) if self.normalise else value, filters)


class TextListFilter(TextFilter):
    """Any of the texts (comma-separated or repeated)."""

    field_class = TextListField

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        texts = [self.normalise(v) for v in value] if self.normalise else value
        return ValueFilter.condition(self, texts, filters)


class ChoiceFilter(ValueFilter):
    """Any of the choices (comma-separated or repeated); the schema names them."""

    field_class = ChoicesField

    def __init__(self, field_name: str | None = None, *, choices: Any, **kwargs: Any) -> None:
        kwargs.setdefault("schema", _choices_schema(value for value, _label in choices))
        super().__init__(field_name, "in", choices=choices, **kwargs)


class TagFilter(ValueFilter):
    """Records carrying every (or any) of the named tags, ignoring case.

    Tag names are resolved to ids first (one small query): with constant ids the planner
    estimates how common a tag is and can walk the list's index instead of sorting every
    tagged record.
    """

    field_class = TagNamesField
    schema = TAG_NAMES

    def __init__(self, *, every: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.every = every

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        model = filters.queryset.model
        through = model.tags.through
        column = f"{model._meta.model_name}_id"
        wanted = {name.lower() for name in value}
        ids = dict(
            Tag.objects.annotate(key=Lower("name"))
            .filter(organization=filters.org, key__in=wanted)
            .values_list("key", "pk")
        )
        tagged = through._default_manager.all()
        if not self.every:
            return Q(pk__in=tagged.filter(tag_id__in=list(ids.values())).values(column))
        if len(ids) < len(wanted):
            return Q(pk__in=[])
        condition = Q()
        for tag_id in ids.values():
            condition &= Q(pk__in=tagged.filter(tag_id=tag_id).values(column))
        return condition


class SearchFilter(ValueFilter):
    """``q``: the records the search text finds; its plan depends on the list's ordering."""

    field_class = TextField

    def __init__(self, spec: search.SearchSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def condition(self, value: Any, filters: ListFilterSet) -> Q:
        walk = (filters.ordering or DEFAULT_ORDERING).lstrip("-") not in TEXT_ORDERINGS
        return search.matches(self.spec, value, filters.org.pk, walk=walk)


# --- filter sets ---------------------------------------------------------------------------------


class ListFilterSet(django_filters.FilterSet):
    """The filters of one list, in one organization.

    ``ListFilterSet(params, queryset=..., org=org, ordering=...)``; ``.qs`` is the queryset
    filtered (one ``filter()`` with every condition), or raises ``Invalid`` naming each
    parameter refused. ``custom_fields_of`` names the record type whose custom fields filter
    too (``custom_fields.<key>``); other names no filter has are refused.
    """

    custom_fields_of: ClassVar[str | None] = None

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        org: Organization,
        ordering: str | None = None,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        # django-filter's own __init__ deep-copies every filter for each instance (most of the
        # cost of a list request); these filters keep no state, so the instances share them.
        self.org = org
        self.ordering = ordering
        self.is_bound = data is not None
        self.data: dict[str, Any] = {} if data is None else self._values(data)
        self.queryset = self._meta.model._default_manager.all() if queryset is None else queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = self.base_filters

    def _values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Query parameters as typed filters: a QueryDict's repeats as lists, empties and paging
        parameters left out; an explicit None is ``none`` for a nullable id, else nothing."""
        if isinstance(data, QueryDict):
            return query_values(data)
        values: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                filter_ = self.base_filters.get(name)
                if isinstance(filter_, IdFilter) and filter_.extra.get("nullable"):
                    values[name] = NULL
                elif filter_ is None:
                    values[name] = value  # named as unknown below
                continue
            values[name] = value
        return values

    def problems(self) -> dict[str, list[str]]:
        """Each refused parameter with its messages (none: the filters are valid).

        The values sent are cleaned by their filters' form fields, as ``form`` would (without
        building a form: the browser app renders ``form``, a request only needs the values).
        """
        if not hasattr(self, "_problems"):
            problems: dict[str, list[str]] = {}
            cleaned: dict[str, Any] = {}
            for name, value in self.data.items():
                filter_ = self.filters.get(name)
                if filter_ is not None:
                    try:
                        cleaned[name] = filter_.field.clean(value)
                    except forms.ValidationError as refused:
                        problems[name] = list(refused.messages)
                    continue
                is_custom = name == "custom_fields" or name.startswith("custom_fields.")
                if not (is_custom and self.custom_fields_of is not None):
                    problems[name] = ["Unknown filter."]
            self._cleaned = cleaned
            self._custom_condition = self._custom_field_condition(problems)
            self._problems = problems
        return self._problems

    def is_valid(self) -> bool:
        return not self.problems()

    @property
    def qs(self) -> QuerySet[Any]:
        if not hasattr(self, "_qs"):
            self._qs = self.filter_queryset(self.queryset) if self.is_bound else self.queryset
        return self._qs

    def filter_queryset(self, queryset: QuerySet[M]) -> QuerySet[M]:
        problems = self.problems()
        if problems:
            raise Invalid("Some filters are invalid.", field_errors=problems, code=CrmCode.INVALID_FILTER)
        condition = Q()
        for name, filter_ in self.filters.items():  # in declared order: the same SQL every time
            value = self._cleaned.get(name)
            if value is not None:
                condition &= filter_.condition(value, self)
        condition &= self._custom_condition
        return queryset.filter(condition) if condition else queryset  # no filter: no clone to build

    def _custom_field_condition(self, problems: dict[str, list[str]]) -> Q:
        """Conditions on ``custom_fields`` values, checked and typed against their definitions."""
        if self.custom_fields_of is None:
            return Q()
        wanted: list[tuple[str, str, str | None, Any]] = []  # (filter name, key, operator, value)
        nested = self.data.get("custom_fields")
        if nested is not None:
            if not isinstance(nested, Mapping):
                problems["custom_fields"] = ["Expected an object mapping field keys to values."]
            else:
                for key, value in nested.items():
                    wanted.append((f"custom_fields.{key}", str(key), "exact", value))
        for name, value in self.data.items():
            if name.startswith("custom_fields."):
                key, operator = cf.split_filter_name(name.removeprefix("custom_fields."))
                wanted.append((name, key, operator, value))
        if not wanted:
            return Q()
        definitions = cf.definitions_for(org=self.org, entity=self.custom_fields_of)
        condition = Q()
        for name, key, operator, value in wanted:
            if operator is None and name.removeprefix("custom_fields.") in definitions:
                key, operator = name.removeprefix("custom_fields."), "exact"  # a key older than the key rule
            definition = definitions.get(key)
            if definition is None:
                problems[name] = ["Unknown custom field."]
                continue
            if operator is None:
                problems[name] = [f"Unknown operator; use one of: {', '.join(cf.FILTER_OPERATORS)}."]
                continue
            try:
                condition &= _custom_value_condition(definition, key, operator, value)
            except cf.InvalidValue as exc:
                problems[name] = [str(exc)]
            except forms.ValidationError as exc:
                problems[name] = list(exc.messages)
        return condition


def _custom_value_condition(definition: CustomField, key: str, operator: str, value: Any) -> Q:
    if operator == "isnull":
        present = Q(custom_fields__has_key=key)
        return ~present if _bool(value) else present
    if operator == "in":
        typed = [cf.coerce_value(definition.field_type, v, definition.choices) for v in _values(value)]
        return custom_equals_any(key, typed)
    typed_value = cf.coerce_value(definition.field_type, value, definition.choices)
    if operator == "exact":
        return custom_equals_any(key, [typed_value])
    return Q(**{f"custom_fields__{key}__{operator}": typed_value})


def custom_equals_any(key: str, values: list[Any]) -> Q:
    """Records whose custom field ``key`` holds one of ``values``."""
    condition = Q()
    for value in values:
        if connection.vendor == "postgresql":
            # ``@>`` is answered by the jsonb_path_ops GIN index.
            condition |= Q(custom_fields__contains={key: value})
        else:
            # The explicit ``__exact`` keeps a key named like a lookup (``gt``, ``contains``) a key.
            condition |= Q(**{f"custom_fields__{key}__exact": value})
    return condition


def _domain(value: str) -> str:
    """A domain filter matches however the domain is spelled (``https://www.Acme.example/``)."""
    try:
        return rules.normalise_domain(value)
    except rules.RuleError:
        return value


class CreatedFilterSet(ListFilterSet):
    """Lists of rows with a creation time."""

    created_after = MomentFilter(
        "created_at", "gte", label="Created after", help_text="Created at or after (ISO date or date-time)."
    )
    created_before = MomentFilter(
        "created_at", "lt", label="Created before", help_text="Created before (ISO date or date-time)."
    )


class RecordFilterSet(CreatedFilterSet):
    """What contacts, companies and deals share."""

    updated_after = MomentFilter("updated_at", "gte", label="Updated after", help_text="Updated at or after.")
    updated_before = MomentFilter("updated_at", "lt", label="Updated before", help_text="Updated before.")
    owner = IdFilter("owner_id", label="Owner", help_text="Owner's user id (repeat for several).")


SEARCH_HELP = (
    "Search text: words of names, emails and (contacts) job titles, the longer ones as prefixes; "
    "part of an address (with @ . _ - or a digit) anywhere in a name or email."
)
TAG_HELP = "Has this tag (repeat: has all of them)."
TAGS_HELP = "Has all of these tags (repeat or comma separate)."
TAGS_ANY_HELP = "Has any of these tags (repeat or comma separate)."
IMPORT_HELP = "Created or updated by this CSV import (its id; repeat for several)."


def imported_by(org: Organization, target_type: str, ids: list[int]) -> Q:
    """Records an import created or updated (their ``imported`` timeline entries)."""
    entries = TimelineEntry.objects.filter(
        organization=org, action="imported", target_type=target_type, data__import__in=ids
    )
    return Q(pk__in=entries.values("target_id"))


class CompanyFilterSet(RecordFilterSet):
    custom_fields_of = CustomFieldEntity.COMPANY

    tag = TagFilter(every=True, label="Tag", help_text=TAG_HELP)
    tags = TagFilter(every=True, label="Tags (all)", help_text=TAGS_HELP)
    tags_any = TagFilter(every=False, label="Tags (any)", help_text=TAGS_ANY_HELP)
    domain = TextFilter(
        "domain", "iexact", normalise=_domain, label="Domain", help_text="Web domain, ignoring case."
    )
    industry = TextFilter("industry", "iexact", label="Industry", help_text="Industry, ignoring case.")
    country = TextListFilter(
        "country", "in", normalise=str.upper, label="Country", help_text="ISO country code."
    )
    q = SearchFilter(search.COMPANY, label="Search", help_text=SEARCH_HELP)
    vars()["import"] = IdFilter(nullable=False, where="of_imports", label="Import", help_text=IMPORT_HELP)

    class Meta:
        model = Company
        fields: list[str] = []

    def of_imports(self, ids: list[int]) -> Q:
        return imported_by(self.org, "company", ids)


class ContactFilterSet(RecordFilterSet):
    custom_fields_of = CustomFieldEntity.CONTACT

    company = IdFilter("company_id", label="Company", help_text="Company id.")
    tag = TagFilter(every=True, label="Tag", help_text=TAG_HELP)
    tags = TagFilter(every=True, label="Tags (all)", help_text=TAGS_HELP)
    tags_any = TagFilter(every=False, label="Tags (any)", help_text="Has any of these tags.")
    email = TextFilter("email", "iexact", label="Email", help_text="Email, ignoring case.")
    has_email = FlagFilter(where="with_email", label="Has an email", help_text="Has an email address.")
    deal = IdFilter(nullable=False, where="of_deals", label="Deal", help_text="Is a contact of this deal.")
    q = SearchFilter(search.CONTACT, label="Search", help_text=SEARCH_HELP)
    vars()["import"] = IdFilter(nullable=False, where="of_imports", label="Import", help_text=IMPORT_HELP)

    class Meta:
        model = Contact
        fields: list[str] = []

    def of_imports(self, ids: list[int]) -> Q:
        return imported_by(self.org, "contact", ids)

    def with_email(self, value: bool) -> Q:
        return ~Q(email="") if value else Q(email="")

    def of_deals(self, ids: list[int]) -> Q:
        return Q(pk__in=Deal.contacts.through.objects.filter(deal_id__in=ids).values("contact_id"))


class DealFilterSet(RecordFilterSet):
    custom_fields_of = CustomFieldEntity.DEAL

    company = IdFilter("company_id", label="Company", help_text="Company id.")
    pipeline = IdFilter("pipeline_id", nullable=False, label="Pipeline", help_text="Pipeline id.")
    stage = IdFilter("stage_id", nullable=False, label="Stage", help_text="Stage id.")
    status = ChoiceFilter(
        "stage__kind", choices=StageKind.choices, label="Status", help_text="open, won or lost."
    )
    contact = IdFilter(nullable=False, where="with_contacts", label="Contact", help_text="Has this contact.")
    tag = TagFilter(every=True, label="Tag", help_text=TAG_HELP)
    tags = TagFilter(every=True, label="Tags (all)", help_text=TAGS_HELP)
    tags_any = TagFilter(every=False, label="Tags (any)", help_text=TAGS_ANY_HELP)
    value_min = DecimalFilter("value", "gte", label="Value from", help_text="Value at least.")
    value_max = DecimalFilter("value", "lte", label="Value to", help_text="Value at most.")
    currency = TextFilter("currency", normalise=str.upper, label="Currency", help_text="ISO 4217 currency.")
    expected_close_after = DayFilter(
        "expected_close_date", "gte", label="Closing from", help_text="Expected to close on or after."
    )
    expected_close_before = DayFilter(
        "expected_close_date", "lte", label="Closing to", help_text="Expected to close on or before."
    )
    has_expected_close = FlagFilter(
        where="with_expected_close", label="Has a closing date", help_text="Has an expected close date."
    )
    reached_stage = IdFilter(
        nullable=False,
        where="reached",
        label="Reached stage",
        help_text=(
            "Is, or was at some time (by its stage history), in this stage or a later stage of its "
            "pipeline that is not a lost stage: the deals the pipeline funnel counts at that stage."
        ),
    )
    closed_after = MomentFilter(
        "closed_at", "gte", label="Closed after", help_text="Closed (won or lost) at or after."
    )
    closed_before = MomentFilter("closed_at", "lt", label="Closed before", help_text="Closed before.")
    q = SearchFilter(search.DEAL, label="Search", help_text=SEARCH_HELP)

    class Meta:
        model = Deal
        fields: list[str] = []

    def with_contacts(self, ids: list[int]) -> Q:
        return Q(pk__in=Deal.contacts.through.objects.filter(contact_id__in=ids).values("deal_id"))

    def with_expected_close(self, value: bool) -> Q:
        return Q(expected_close_date__isnull=not value)

    def reached(self, ids: list[int]) -> Q:
        """As the funnel report replays a deal's path: its current stage and every stage its
        ``moved`` timeline entries name, in its pipeline, not lost, at or after the stage."""
        stages = list(
            Stage.objects.filter(organization=self.org, pk__in=ids).values("pipeline_id", "position")
        )
        condition = Q(pk__in=[])
        for stage in stages:
            later = list(
                Stage.objects.filter(
                    organization=self.org, pipeline_id=stage["pipeline_id"], position__gte=stage["position"]
                )
                .exclude(kind=StageKind.LOST)
                .values_list("pk", flat=True)
            )
            moves = TimelineEntry.objects.filter(
                organization=self.org, target_type="deal", action="moved"
            ).filter(Q(changes__stage__new__in=later) | Q(changes__stage__old__in=later))
            condition |= Q(pipeline_id=stage["pipeline_id"]) & (
                Q(stage_id__in=later) | Q(pk__in=moves.values("target_id"))
            )
        return condition


class ActivityFilterSet(CreatedFilterSet):
    kind = ChoiceFilter("kind", choices=ActivityKind.choices, label="Kind", help_text="Kind of activity.")
    done = FlagFilter("done", label="Done", help_text="Done or not.")
    assignee = IdFilter("assignee_id", label="Assignee", help_text="Assignee's user id.")
    contact = IdFilter("contact_id", nullable=False, label="Contact", help_text="Contact id.")
    company = IdFilter("company_id", nullable=False, label="Company", help_text="Company id.")
    deal = IdFilter("deal_id", nullable=False, label="Deal", help_text="Deal id.")
    due_after = MomentFilter("due_at", "gte", label="Due after", help_text="Due at or after.")
    due_before = MomentFilter("due_at", "lt", label="Due before", help_text="Due before.")
    overdue = FlagFilter(where="past_due", label="Overdue", help_text="Not done and due in the past.")
    q = TextFilter(where="text", label="Search", help_text="Text in subject or body.")

    class Meta:
        model = Activity
        fields: list[str] = []

    def past_due(self, value: bool) -> Q:
        overdue = Q(done=False, due_at__lt=timezone.now())
        return overdue if value else ~overdue

    def text(self, value: str) -> Q:
        return Q(subject__icontains=value) | Q(body__icontains=value)


class TimelineFilterSet(CreatedFilterSet):
    actor = IdFilter("actor_id", label="Actor", help_text="Actor's user id.")
    action = TextListFilter("action", "in", label="Action", help_text="created, updated, deleted, moved, ...")
    target_type = TextListFilter(
        "target_type",
        "in",
        label="Record type",
        help_text="contact, company, deal, activity, pipeline, customfield",
    )
    target_id = IdFilter(
        "target_id", nullable=False, label="Record", help_text="Record id (with target_type)."
    )

    class Meta:
        model = TimelineEntry
        fields: list[str] = []


class CustomFieldFilterSet(ListFilterSet):
    entity = ChoiceFilter(
        "entity",
        choices=CustomFieldEntity.choices,
        label="Record type",
        help_text="Only the fields of this record type.",
    )

    class Meta:
        model = CustomField
        fields: list[str] = []


# The FilterSet of each list, by the list's name in URLs (the browser app renders filter controls
# from their forms).
FILTERSETS: dict[str, type[ListFilterSet]] = {
    "companies": CompanyFilterSet,
    "contacts": ContactFilterSet,
    "deals": DealFilterSet,
    "activities": ActivityFilterSet,
    "timeline": TimelineFilterSet,
    "custom-fields": CustomFieldFilterSet,
}
