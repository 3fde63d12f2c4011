"""The CRM over REST: thin views on the crm services (writes) and selectors (reads).

Input serializers check JSON types strictly and refuse unknown keys; the services check
everything else (references inside the organization, custom field values, business rules)
and raise ApplicationError naming the field. Output serializers read only what the
selectors loaded (related ids, prefetched tags/contacts/stages): a page costs the same
number of queries whatever its length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stratus.api.pagination import KeysetPagination
from stratus.api.permissions import ReadViewerWriteAdmin, ReadViewerWriteMember
from stratus.api.schema import exactly_one_of
from stratus.api.serializers import (
    ID_MAX,
    ID_MIN,
    INT32_MAX,
    FastOutputSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictDateField,
    StrictDateTimeField,
    StrictDecimalField,
    StrictEmailField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
)
from stratus.api.views import (
    ID_PARAMETER_SCHEMA,
    ActionView,
    actor,
    organization,
    query_filters,
    query_id,
    validated,
)
from stratus.crm import rules, selectors, services
from stratus.crm.custom_fields import KEY_PATTERN
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    CustomFieldEntity,
    CustomFieldType,
    Deal,
    Pipeline,
    StageKind,
    Tag,
    TimelineEntry,
)

# --- shared fields ----------------------------------------------------------------------------


def _ref(help_text: str) -> StrictIntegerField:
    return StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=ID_MIN, max_value=ID_MAX, help_text=help_text
    )


def _text(max_length: int | None = None, **kwargs: Any) -> StrictCharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    if max_length is not None:
        kwargs["max_length"] = max_length
    return StrictCharField(**kwargs)


# Patterns of checks the services make, stated in the schema.
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
PHONE = r"^\s*([0-9+().,;#*xX /-]+|ext\.? ?[0-9]+)\s*$"
WEB_ADDRESS = r"^(https?://([a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\.)+[a-z]{2,10}(/[A-Za-z0-9._~-]*)*)?$"
TAGS_SCHEMA = {
    "type": "array",
    "maxItems": rules.MAX_TAGS,
    "items": {"type": "string", "maxLength": rules.TAG_NAME_MAX, "pattern": NOT_BLANK},
    "description": "Tag names (created when new; matched ignoring case).",
}


class TagNamesField(StrictListField):
    """Tag names, checked by the CRM's tag rule (the same messages as a CSV import's)."""

    def to_internal_value(self, data: Any) -> list[Any]:
        values = super().to_internal_value(data)
        try:
            rules.tag_names(values)
        except rules.RuleError as problem:
            raise serializers.ValidationError(problem.message) from None
        return values


def _tags() -> StrictListField:
    return TagNamesField(
        child=StrictCharField(trim_whitespace=False),
        required=False,
        default=list,
        help_text="Tag names (created when new; matched ignoring case).",
    )


class CustomValuesField(serializers.DictField):
    """``{key: value}`` checked against the organization's custom field definitions by the services."""

    default_error_messages = {"not_a_dict": "Expected an object mapping custom field keys to values."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", dict)
        kwargs.setdefault(
            "help_text",
            "Values of the custom fields defined for this record type, by key; null removes a value.",
        )
        super().__init__(**kwargs)


class TimestampedSerializer(FastOutputSerializer):
    id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def _tag_names(record: Company | Contact) -> list[str]:
    return selectors.tag_names(record)  # loaded by the selectors, ordered by name


# --- companies --------------------------------------------------------------------------------


class CompanySerializer(TimestampedSerializer):
    name = serializers.CharField()
    domain = serializers.CharField()
    website = serializers.CharField()
    phone = serializers.CharField()
    industry = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    tags = serializers.SerializerMethodField()
    custom_fields = serializers.DictField()

    def get_tags(self, company: Company) -> list[str]:
        return _tag_names(company)


class CompanyWriteSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    domain = _text(rules.LIMITS["domain"])
    website = _text(500)
    phone = _text(50)
    industry = _text(100)
    city = _text(100)
    country = _text(2, help_text="ISO 3166-1 alpha-2 code, e.g. DE.")
    description = _text()
    owner = _ref("A member's user id.")
    tags = _tags()
    custom_fields = CustomValuesField()

    schema_rules = {"properties": {"website": {"pattern": WEB_ADDRESS}, "tags": TAGS_SCHEMA}}


# --- contacts ---------------------------------------------------------------------------------


class ContactSerializer(TimestampedSerializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    full_name = serializers.CharField()
    email = serializers.CharField()
    phones = serializers.ListField(child=serializers.CharField())
    job_title = serializers.CharField()
    company = serializers.IntegerField(source="company_id", allow_null=True)
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    tags = serializers.SerializerMethodField()
    custom_fields = serializers.DictField()

    def get_tags(self, contact: Contact) -> list[str]:
        return _tag_names(contact)


class ContactWriteSerializer(StrictSerializer):
    first_name = _text(100)
    last_name = _text(100)
    email = StrictEmailField(max_length=rules.LIMITS["email"], required=False, allow_blank=True, default="")
    phones = StrictListField(
        child=StrictCharField(max_length=50, trim_whitespace=False),
        required=False,
        default=list,
        max_length=20,
    )
    job_title = _text(150)
    company = _ref("Company id in this organization.")
    owner = _ref("A member's user id.")
    tags = _tags()
    custom_fields = CustomValuesField()

    # A contact has a first name, a last name or an email (not blank).
    schema_rules = {
        "properties": {
            "tags": TAGS_SCHEMA,
            "phones": {
                "type": "array",
                "maxItems": 20,
                "items": {"type": "string", "maxLength": 50, "pattern": PHONE},
            },
        },
        "anyOf": [
            {"required": ["first_name"], "properties": {"first_name": {"pattern": NOT_BLANK}}},
            {"required": ["last_name"], "properties": {"last_name": {"pattern": NOT_BLANK}}},
            {"required": ["email"], "properties": {"email": {"pattern": NOT_BLANK}}},
        ],
    }


# --- pipelines and stages ---------------------------------------------------------------------


class StageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    pipeline = serializers.IntegerField(source="pipeline_id", read_only=True)
    name = serializers.CharField()
    position = serializers.IntegerField()
    probability = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=StageKind.choices)


class PipelineSerializer(TimestampedSerializer):
    name = serializers.CharField()
    position = serializers.IntegerField()
    is_default = serializers.BooleanField()
    stages = StageSerializer(many=True)


class StageInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    probability = StrictIntegerField(
        min_value=0, max_value=100, required=False, allow_null=True, default=None
    )
    kind = StrictChoiceField(choices=StageKind.choices, required=False, default=StageKind.OPEN)


class PipelineCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    position = StrictIntegerField(
        min_value=0, max_value=2_147_483_647, required=False, default=None, allow_null=True
    )
    is_default = StrictBooleanField(required=False, default=None, allow_null=True)
    stages = StageInputSerializer(
        many=True,
        required=False,
        default=None,
        allow_null=True,
        help_text="Ordered stages (default: a standard set).",
    )

    schema_rules = {"properties": {"stages": {"minItems": 1}}}  # a pipeline has at least one stage


class PipelineUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    position = StrictIntegerField(min_value=0, max_value=2_147_483_647)
    is_default = StrictBooleanField()


class StageCreateSerializer(StageInputSerializer):
    position = StrictIntegerField(
        min_value=0, max_value=INT32_MAX, required=False, default=None, allow_null=True
    )


class StageUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    probability = StrictIntegerField(min_value=0, max_value=100)
    kind = StrictChoiceField(choices=StageKind.choices)
    position = StrictIntegerField(min_value=0, max_value=INT32_MAX)


# --- deals ------------------------------------------------------------------------------------


class DealSerializer(TimestampedSerializer):
    title = serializers.CharField()
    value = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    pipeline = serializers.IntegerField(source="pipeline_id")
    stage = serializers.IntegerField(source="stage_id")
    company = serializers.IntegerField(source="company_id", allow_null=True)
    contacts = serializers.SerializerMethodField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    expected_close_date = serializers.DateField(allow_null=True)
    lost_reason = serializers.CharField()
    stage_changed_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    custom_fields = serializers.DictField()

    def get_contacts(self, deal: Deal) -> list[int]:
        return selectors.contact_ids(deal)  # loaded by the selectors


class DealWriteSerializer(StrictSerializer):
    title = StrictCharField(max_length=200)
    value = StrictDecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, default=Decimal("0.00")
    )
    currency = StrictCharField(min_length=3, max_length=3, required=False, default="USD")
    pipeline = StrictIntegerField(
        min_value=ID_MIN, max_value=ID_MAX, required=False, help_text="Default: the default pipeline."
    )
    stage = StrictIntegerField(
        min_value=ID_MIN, max_value=ID_MAX, required=False, help_text="Default: the pipeline's first stage."
    )
    company = _ref("Company id in this organization.")
    contacts = StrictListField(
        child=StrictIntegerField(min_value=ID_MIN, max_value=ID_MAX),
        required=False,
        default=list,
        max_length=100,
    )
    owner = _ref("A member's user id.")
    expected_close_date = StrictDateField(required=False, allow_null=True, default=None)
    lost_reason = _text()
    custom_fields = CustomValuesField()

    schema_rules = {"properties": {"currency": {"pattern": services.CURRENCY_PATTERN.pattern}}}


class DealMoveSerializer(StrictSerializer):
    stage = StrictIntegerField(
        min_value=ID_MIN, max_value=ID_MAX, help_text="Target stage id (any pipeline of the organization)."
    )
    lost_reason = StrictCharField(
        required=False, allow_null=True, default=None, help_text="Needed for a lost stage."
    )


# --- activities -------------------------------------------------------------------------------


class ActivitySerializer(TimestampedSerializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    subject = serializers.CharField()
    body = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    done = serializers.BooleanField()
    done_at = serializers.DateTimeField(allow_null=True)
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True)
    contact = serializers.IntegerField(source="contact_id", allow_null=True)
    company = serializers.IntegerField(source="company_id", allow_null=True)
    deal = serializers.IntegerField(source="deal_id", allow_null=True)


class ActivityWriteSerializer(StrictSerializer):
    kind = StrictChoiceField(choices=ActivityKind.choices, required=False, default=ActivityKind.TASK)
    subject = StrictCharField(max_length=200)
    body = _text()
    due_at = StrictDateTimeField(required=False, allow_null=True, default=None)
    done = StrictBooleanField(required=False, default=False)
    assignee = _ref("A member's user id.")
    contact = _ref("Exactly one of contact, company and deal.")
    company = _ref("Exactly one of contact, company and deal.")
    deal = _ref("Exactly one of contact, company and deal.")

    schema_rules = exactly_one_of("contact", "company", "deal")


# --- custom fields, tags, timeline ------------------------------------------------------------


class CustomFieldSerializer(TimestampedSerializer):
    entity = serializers.ChoiceField(choices=CustomFieldEntity.choices)
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    field_type = serializers.ChoiceField(choices=CustomFieldType.choices)
    choices = serializers.ListField(child=serializers.CharField())
    required = serializers.BooleanField()  # type: ignore[assignment]
    position = serializers.IntegerField()


class CustomFieldCreateSerializer(StrictSerializer):
    entity = StrictChoiceField(choices=CustomFieldEntity.choices)
    key = StrictCharField(
        max_length=50,
        help_text="Lower-case letters, digits and _, starting with a letter.",
    )
    label = StrictCharField(max_length=100)  # type: ignore[assignment]
    field_type = StrictChoiceField(choices=CustomFieldType.choices)
    choices = StrictListField(
        child=StrictCharField(max_length=100), required=False, default=list, max_length=200
    )
    required = StrictBooleanField(required=False, default=False)  # type: ignore[assignment]
    position = StrictIntegerField(
        min_value=0, max_value=2_147_483_647, required=False, default=None, allow_null=True
    )

    schema_rules = {"properties": {"key": {"pattern": KEY_PATTERN.pattern}}}


class CustomFieldUpdateSerializer(StrictSerializer):
    label = StrictCharField(max_length=100)  # type: ignore[assignment]
    choices = StrictListField(child=StrictCharField(max_length=100), max_length=200)
    required = StrictBooleanField()  # type: ignore[assignment]
    position = StrictIntegerField(min_value=0, max_value=2_147_483_647)


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TimelineEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.IntegerField()
    target_label = serializers.CharField()
    parent_type = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    changes = serializers.JSONField(allow_null=True)
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField()


# --- generic views ----------------------------------------------------------------------------


IDS = {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$"}
IDS_OR_NONE = {"type": "string", "pattern": r"^(none|null|[0-9]+(,[0-9]+)*)$"}
FLAG = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}
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


def _or_empty(kind: Any) -> Any:
    """A filter's schema admitting the empty value, which filters nothing (see query_filters)."""
    if not isinstance(kind, dict):
        return kind
    if "enum" in kind:
        return {**kind, "enum": ["", *kind["enum"]]}
    if "pattern" in kind:
        return {**kind, "pattern": f"^$|{kind['pattern']}"}
    return kind


def _filter_parameters(spec: Mapping[str, Any]) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            name, _or_empty(kind), OpenApiParameter.QUERY, required=False, description=description
        )
        for name, (kind, description) in spec.items()
    ]


COMMON_FILTER_DOCS: dict[str, tuple[Any, str]] = {
    "created_after": (MOMENT, "Created at or after (ISO date or date-time)."),
    "created_before": (MOMENT, "Created before (ISO date or date-time)."),
    "updated_after": (MOMENT, "Updated at or after."),
    "updated_before": (MOMENT, "Updated before."),
    "owner": (IDS_OR_NONE, "Owner's user id (repeat for several)."),
    "q": (OpenApiTypes.STR, "Search text (full-text and similarity on names and emails)."),
}
COMPANY_FILTER_DOCS: dict[str, tuple[Any, str]] = {
    **COMMON_FILTER_DOCS,
    "tag": (TAG_NAMES, "Has this tag (repeat: has all of them)."),
    "tags_any": (TAG_NAMES, "Has any of these tags (repeat or comma separate)."),
    "domain": (OpenApiTypes.STR, "Web domain, ignoring case."),
    "industry": (OpenApiTypes.STR, "Industry, ignoring case."),
    "country": (OpenApiTypes.STR, "ISO country code."),
}
CONTACT_FILTER_DOCS: dict[str, tuple[Any, str]] = {
    **COMMON_FILTER_DOCS,
    "company": (IDS_OR_NONE, "Company id."),
    "tag": (TAG_NAMES, "Has this tag (repeat: has all of them)."),
    "tags_any": (TAG_NAMES, "Has any of these tags."),
    "email": (OpenApiTypes.STR, "Email, ignoring case."),
    "has_email": (FLAG, "Has an email address."),
    "deal": (IDS, "Is a contact of this deal."),
}
DEAL_FILTER_DOCS: dict[str, tuple[Any, str]] = {
    **COMMON_FILTER_DOCS,
    "company": (IDS_OR_NONE, "Company id."),
    "pipeline": (IDS, "Pipeline id."),
    "stage": (IDS, "Stage id."),
    "status": ({"type": "string", "enum": ["open", "won", "lost"]}, "open, won or lost."),
    "contact": (IDS, "Has this contact."),
    "value_min": (DECIMAL, "Value at least."),
    "value_max": (DECIMAL, "Value at most."),
    "currency": (OpenApiTypes.STR, "ISO 4217 currency."),
    "expected_close_after": (DAY, "Expected to close on or after."),
    "expected_close_before": (DAY, "Expected to close on or before."),
    "closed_after": (MOMENT, "Closed (won or lost) at or after."),
    "closed_before": (MOMENT, "Closed before."),
}
CUSTOM_FILTER_NOTE = (
    " Custom fields filter as `custom_fields.<key>=value`, with suffixes `__gt`, `__gte`, `__lt`, `__lte`, "
    "`__in` (comma separated) and `__isnull`."
)


# What an export (stratus.imports) takes: the list's filters and orderings.
EXPORTS: dict[str, tuple[Mapping[str, tuple[Any, str]], Mapping[str, tuple[str, ...]]]] = {
    "companies": (COMPANY_FILTER_DOCS, selectors.COMPANY_ORDERINGS),
    "contacts": (CONTACT_FILTER_DOCS, selectors.CONTACT_ORDERINGS),
    "deals": (DEAL_FILTER_DOCS, selectors.DEAL_ORDERINGS),
}


def export_parameters(kind: str) -> list[OpenApiParameter]:
    """The query parameters of the CSV export of ``kind``: the list's filters and orderings."""
    filters, orderings = EXPORTS[kind]
    ordering = {"type": "string", "enum": ["", *orderings, *(f"-{name}" for name in orderings)]}
    return [
        *_filter_parameters(filters),
        OpenApiParameter(
            "ordering", ordering, OpenApiParameter.QUERY, description="Sort key; - for descending."
        ),
    ]


class RecordListView(generics.GenericAPIView):
    """List (filtered by query parameters, keyset-paginated) and create records of one kind."""

    permission_classes = (ReadViewerWriteMember,)
    list_selector: Callable[..., QuerySet[Any]]
    orderings: Mapping[str, tuple[str, ...]]
    create_service: Callable[..., Model]
    write_serializer: type[serializers.Serializer]
    detail_route: str
    get_one: Callable[..., Model]

    def get_queryset(self) -> QuerySet[Any]:
        # The pagination orders the page (and refuses unknown orderings); the selector is told
        # the ordering too, since the plan of a search depends on it.
        sent = self.request.query_params.get(KeysetPagination.ordering_param)
        ordering = sent if sent and sent.removeprefix("-") in self.orderings else None
        return self.list_selector(
            org=organization(self.request), filters=query_filters(self.request), ordering=ordering
        )

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        data = validated(self.write_serializer, request)
        created = self.create_service(org=organization(request), actor=actor(request), **data)
        fresh = self.get_one(org=organization(request), pk=created.pk)
        return Response(
            self.get_serializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse(self.detail_route, args=[created.pk])},
        )


class RecordDetailView(generics.GenericAPIView):
    """Read, change (PATCH: the fields sent; PUT: the whole record) and delete one record."""

    permission_classes = (ReadViewerWriteMember,)
    get_one: Callable[..., Model]
    update_service: Callable[..., Model]
    delete_service: Callable[..., None]
    write_serializer: type[serializers.Serializer]
    record_argument: str
    allow_put = True

    def _record(self, pk: int) -> Any:
        return self.get_one(org=organization(self.request), pk=pk)

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self._record(pk)).data)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        record = self._record(pk)
        data = validated(self.write_serializer, request, partial=partial)
        if not partial and "custom_fields" in data:
            # PUT replaces: custom values not sent are removed.
            data["custom_fields"] = {**dict.fromkeys(record.custom_fields or {}), **data["custom_fields"]}
        self.update_service(
            org=organization(request), actor=actor(request), **{self.record_argument: record.pk}, **data
        )
        return Response(self.get_serializer(self._record(pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    def delete(self, request: Request, pk: int) -> Response:
        record = self._record(pk)
        self.delete_service(
            org=organization(request), actor=actor(request), **{self.record_argument: record.pk}
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordTimelineView(generics.GenericAPIView):
    """What happened to one record (and its activities), newest first."""

    permission_classes = (ReadViewerWriteMember,)
    serializer_class = TimelineEntrySerializer
    queryset = TimelineEntry.objects.none()
    orderings = {"created_at": ("created_at",)}
    get_one: Callable[..., Model]

    @extend_schema(responses={200: TimelineEntrySerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        record = self.get_one(org=organization(request), pk=pk)
        entries = selectors.timeline_for_record(org=organization(request), record=record)  # type: ignore[arg-type]
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _record_views(
    *,
    model: type[Model],
    read: type[serializers.Serializer],
    write: type[serializers.Serializer],
    name: str,
    list_selector: Callable[..., QuerySet[Any]],
    get_one: Callable[..., Model],
    create: Callable[..., Model],
    update: Callable[..., Model],
    delete: Callable[..., None],
    orderings: Mapping[str, tuple[str, ...]],
    filters: Mapping[str, tuple[Any, str]],
    filter_note: str = "",
) -> tuple[type[RecordListView], type[RecordDetailView], type[RecordTimelineView]]:
    """The list, detail and timeline views of one record type."""
    tag = str(model._meta.verbose_name_plural).title()
    list_view = extend_schema_view(
        get=extend_schema(
            tags=[tag],
            parameters=_filter_parameters(filters),
            responses={200: read(many=True)},
            description=f"List {model._meta.verbose_name_plural}, filtered by the query parameters."
            + filter_note,
        ),
        post=extend_schema(tags=[tag], request=write, responses={201: read}),
    )(
        type(
            f"{model.__name__}ListView",
            (RecordListView,),
            {
                "serializer_class": read,
                "queryset": model._default_manager.none(),
                "orderings": orderings,
                "list_selector": staticmethod(list_selector),
                "get_one": staticmethod(get_one),
                "create_service": staticmethod(create),
                "write_serializer": write,
                "detail_route": f"api-{name}-detail",
            },
        )
    )
    detail_view = extend_schema_view(
        get=extend_schema(tags=[tag], responses={200: read}),
        patch=extend_schema(tags=[tag], request=write, responses={200: read}),
        put=extend_schema(tags=[tag], request=write, responses={200: read}),
        delete=extend_schema(tags=[tag], responses={204: None}),
    )(
        type(
            f"{model.__name__}DetailView",
            (RecordDetailView,),
            {
                "serializer_class": read,
                "queryset": model._default_manager.none(),
                "get_one": staticmethod(get_one),
                "update_service": staticmethod(update),
                "delete_service": staticmethod(delete),
                "write_serializer": write,
                "record_argument": name,
            },
        )
    )
    timeline_view = extend_schema_view(get=extend_schema(tags=[tag]))(
        type(f"{model.__name__}TimelineView", (RecordTimelineView,), {"get_one": staticmethod(get_one)})
    )
    return list_view, detail_view, timeline_view


CompanyListView, CompanyDetailView, CompanyTimelineView = _record_views(
    model=Company,
    read=CompanySerializer,
    write=CompanyWriteSerializer,
    name="company",
    list_selector=selectors.company_list,
    get_one=selectors.company_get,
    create=services.company_create,
    update=services.company_update,
    delete=services.company_delete,
    orderings=selectors.COMPANY_ORDERINGS,
    filters=COMPANY_FILTER_DOCS,
    filter_note=CUSTOM_FILTER_NOTE,
)

ContactListView, ContactDetailView, ContactTimelineView = _record_views(
    model=Contact,
    read=ContactSerializer,
    write=ContactWriteSerializer,
    name="contact",
    list_selector=selectors.contact_list,
    get_one=selectors.contact_get,
    create=services.contact_create,
    update=services.contact_update,
    delete=services.contact_delete,
    orderings=selectors.CONTACT_ORDERINGS,
    filters=CONTACT_FILTER_DOCS,
    filter_note=CUSTOM_FILTER_NOTE,
)

DealListView, DealDetailView, DealTimelineView = _record_views(
    model=Deal,
    read=DealSerializer,
    write=DealWriteSerializer,
    name="deal",
    list_selector=selectors.deal_list,
    get_one=selectors.deal_get,
    create=services.deal_create,
    update=services.deal_update,
    delete=services.deal_delete,
    orderings=selectors.DEAL_ORDERINGS,
    filters=DEAL_FILTER_DOCS,
    filter_note=CUSTOM_FILTER_NOTE,
)

ActivityListView, ActivityDetailView, ActivityTimelineView = _record_views(
    model=Activity,
    read=ActivitySerializer,
    write=ActivityWriteSerializer,
    name="activity",
    list_selector=selectors.activity_list,
    get_one=selectors.activity_get,
    create=services.activity_create,
    update=services.activity_update,
    delete=services.activity_delete,
    orderings=selectors.ACTIVITY_ORDERINGS,
    filters={
        "created_after": COMMON_FILTER_DOCS["created_after"],
        "created_before": COMMON_FILTER_DOCS["created_before"],
        "kind": ({"type": "string", "enum": ["task", "call", "meeting", "note"]}, "Kind of activity."),
        "done": (FLAG, "Done or not."),
        "assignee": (IDS_OR_NONE, "Assignee's user id."),
        "contact": (IDS, "Contact id."),
        "company": (IDS, "Company id."),
        "deal": (IDS, "Deal id."),
        "due_after": (MOMENT, "Due at or after."),
        "due_before": (MOMENT, "Due before."),
        "overdue": (FLAG, "Not done and due in the past."),
        "q": (OpenApiTypes.STR, "Text in subject or body."),
    },
)


class DealMoveView(ActionView):
    """Move a deal to another stage (of any pipeline); answers with the updated deal."""

    @extend_schema(tags=["Deals"], request=DealMoveSerializer, responses={200: DealSerializer})
    def post(self, request: Request, pk: int) -> Response:
        deal = selectors.deal_get(org=organization(request), pk=pk)
        data = validated(DealMoveSerializer, request)
        services.deal_move(
            org=organization(request),
            actor=actor(request),
            deal=deal.pk,
            stage=data["stage"],
            lost_reason=data["lost_reason"],
        )
        return Response(DealSerializer(selectors.deal_get(org=organization(request), pk=pk)).data)


# --- pipelines, stages, custom fields (admins change them) -----------------------------------


class PipelineListView(generics.GenericAPIView):
    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = PipelineSerializer
    queryset = Pipeline.objects.none()
    orderings = {"position": ("position",), "created_at": ("created_at",)}
    ordering = "position"

    @extend_schema(tags=["Pipelines"], responses={200: PipelineSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.pipeline_list(org=organization(request)))
        return self.get_paginated_response(PipelineSerializer(page, many=True).data)

    @extend_schema(tags=["Pipelines"], request=PipelineCreateSerializer, responses={201: PipelineSerializer})
    def post(self, request: Request) -> Response:
        data = validated(PipelineCreateSerializer, request)
        pipeline = services.pipeline_create(org=organization(request), actor=actor(request), **data)
        fresh = selectors.pipeline_get(org=organization(request), pk=pipeline.pk)
        return Response(
            PipelineSerializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-pipeline-detail", args=[pipeline.pk])},
        )


class PipelineDetailView(APIView):
    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], responses={200: PipelineSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(PipelineSerializer(selectors.pipeline_get(org=organization(request), pk=pk)).data)

    @extend_schema(tags=["Pipelines"], request=PipelineUpdateSerializer, responses={200: PipelineSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=organization(request), pk=pk)
        data = validated(PipelineUpdateSerializer, request, partial=True)
        services.pipeline_update(
            org=organization(request), actor=actor(request), pipeline=pipeline.pk, **data
        )
        return Response(PipelineSerializer(selectors.pipeline_get(org=organization(request), pk=pk)).data)

    @extend_schema(tags=["Pipelines"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=organization(request), pk=pk)
        services.pipeline_delete(org=organization(request), actor=actor(request), pipeline=pipeline.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineStageCreateView(ActionView):
    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], request=StageCreateSerializer, responses={201: StageSerializer})
    def post(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=organization(request), pk=pk)
        data = validated(StageCreateSerializer, request)
        stage = services.stage_create(
            org=organization(request), actor=actor(request), pipeline=pipeline.pk, **data
        )
        fresh = selectors.stage_get(org=organization(request), pk=stage.pk)
        return Response(
            StageSerializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-stage-detail", args=[stage.pk])},
        )


class StageDetailView(APIView):
    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], responses={200: StageSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(StageSerializer(selectors.stage_get(org=organization(request), pk=pk)).data)

    @extend_schema(tags=["Pipelines"], request=StageUpdateSerializer, responses={200: StageSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        stage = selectors.stage_get(org=organization(request), pk=pk)
        data = validated(StageUpdateSerializer, request, partial=True)
        services.stage_update(org=organization(request), actor=actor(request), stage=stage.pk, **data)
        return Response(StageSerializer(selectors.stage_get(org=organization(request), pk=pk)).data)

    @extend_schema(
        tags=["Pipelines"],
        parameters=[
            OpenApiParameter(
                "move_deals_to",
                ID_PARAMETER_SCHEMA,
                OpenApiParameter.QUERY,
                description="Stage (same pipeline) to move this stage's deals to, if it holds any.",
            )
        ],
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        stage = selectors.stage_get(org=organization(request), pk=pk)
        services.stage_delete(
            org=organization(request),
            actor=actor(request),
            stage=stage.pk,
            move_deals_to=query_id(request, "move_deals_to"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineTimelineView(RecordTimelineView):
    get_one = staticmethod(selectors.pipeline_get)


class CustomFieldListView(generics.GenericAPIView):
    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = CustomFieldSerializer
    queryset = CustomField.objects.none()
    orderings = {"position": ("position",), "created_at": ("created_at",)}
    ordering = "position"

    @extend_schema(
        tags=["Custom fields"],
        parameters=[
            OpenApiParameter(
                "entity",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=CustomFieldEntity.values,
                description="Only the fields of this record type.",
            )
        ],
        responses={200: CustomFieldSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        fields = selectors.custom_field_list(
            org=organization(request), entity=request.query_params.get("entity")
        )
        page = self.paginate_queryset(fields)
        return self.get_paginated_response(CustomFieldSerializer(page, many=True).data)

    @extend_schema(
        tags=["Custom fields"], request=CustomFieldCreateSerializer, responses={201: CustomFieldSerializer}
    )
    def post(self, request: Request) -> Response:
        data = validated(CustomFieldCreateSerializer, request)
        field = services.custom_field_create(org=organization(request), actor=actor(request), **data)
        return Response(
            CustomFieldSerializer(field).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-custom-field-detail", args=[field.pk])},
        )


class CustomFieldDetailView(APIView):
    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Custom fields"], responses={200: CustomFieldSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            CustomFieldSerializer(selectors.custom_field_get(org=organization(request), pk=pk)).data
        )

    @extend_schema(
        tags=["Custom fields"], request=CustomFieldUpdateSerializer, responses={200: CustomFieldSerializer}
    )
    def patch(self, request: Request, pk: int) -> Response:
        field = selectors.custom_field_get(org=organization(request), pk=pk)
        data = validated(CustomFieldUpdateSerializer, request, partial=True)
        updated = services.custom_field_update(
            org=organization(request), actor=actor(request), field=field.pk, **data
        )
        return Response(CustomFieldSerializer(updated).data)

    @extend_schema(tags=["Custom fields"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        field = selectors.custom_field_get(org=organization(request), pk=pk)
        services.custom_field_delete(org=organization(request), actor=actor(request), field=field.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagListView(generics.GenericAPIView):
    serializer_class = TagSerializer
    queryset = Tag.objects.none()
    orderings = {"name": ("name",), "created_at": ("created_at",)}
    ordering = "name"

    @extend_schema(tags=["Tags"], responses={200: TagSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.tag_list(org=organization(request)))
        return self.get_paginated_response(TagSerializer(page, many=True).data)


class TimelineListView(generics.GenericAPIView):
    """The organization's audit trail: every create, update, delete and stage move."""

    serializer_class = TimelineEntrySerializer
    queryset = TimelineEntry.objects.none()
    orderings = {"created_at": ("created_at",)}

    @extend_schema(
        tags=["Timeline"],
        parameters=_filter_parameters(
            {
                "created_after": COMMON_FILTER_DOCS["created_after"],
                "created_before": COMMON_FILTER_DOCS["created_before"],
                "actor": (IDS_OR_NONE, "Actor's user id."),
                "action": (OpenApiTypes.STR, "created, updated, deleted, moved, ..."),
                "target_type": (OpenApiTypes.STR, "contact, company, deal, activity, pipeline, customfield"),
                "target_id": (IDS, "Record id (with target_type)."),
            }
        ),
        responses={200: TimelineEntrySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        entries = selectors.timeline_list(org=organization(request), filters=query_filters(request))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)
