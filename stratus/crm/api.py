"""The CRM over REST: thin views on the crm services (writes) and selectors (reads).

Input serializers check JSON types strictly and refuse unknown keys; the services check
everything else (references inside the organization, custom field values, business rules)
and raise ApplicationError naming the field. Output serializers read only what the
selectors loaded (related ids, prefetched tags/contacts/stages): a page costs the same
number of queries whatever its length.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

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
    OrganizationAction,
    OrganizationEndpoint,
    OrganizationListEndpoint,
    query_id,
)
from stratus.crm import rules, selectors, services, versions
from stratus.crm.custom_fields import KEY_PATTERN
from stratus.crm.errors import CrmCode
from stratus.crm.filters import (
    ActivityFilterSet,
    CompanyFilterSet,
    ContactFilterSet,
    CustomFieldFilterSet,
    DealFilterSet,
    ListFilterSet,
    TimelineFilterSet,
)
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
from stratus.platform.errors import Conflict, PreconditionFailed

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


def _tag_names(record: Company | Contact | Deal) -> list[str]:
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
    tags = serializers.SerializerMethodField()
    custom_fields = serializers.DictField()

    def get_contacts(self, deal: Deal) -> list[int]:
        return selectors.contact_ids(deal)  # loaded by the selectors

    def get_tags(self, deal: Deal) -> list[str]:
        return _tag_names(deal)


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
    tags = _tags()
    custom_fields = CustomValuesField()

    schema_rules = {
        "properties": {"currency": {"pattern": services.CURRENCY_PATTERN.pattern}, "tags": TAGS_SCHEMA}
    }


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


# --- filters in the schema --------------------------------------------------------------------


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """A filter's schema admitting the empty value, which filters nothing (see query_values)."""
    if "enum" in schema:
        return {**schema, "enum": ["", *schema["enum"]]}
    if "pattern" in schema:
        return {**schema, "pattern": f"^$|{schema['pattern']}"}
    return schema


def filter_parameters(filterset: type[ListFilterSet]) -> list[OpenApiParameter]:
    """The query parameters of a list, as its FilterSet declares them."""
    return [
        OpenApiParameter(
            name,
            _or_empty(declared.schema),
            OpenApiParameter.QUERY,
            required=False,
            description=declared.extra.get("help_text", ""),
        )
        for name, declared in filterset.base_filters.items()
    ]


CUSTOM_FILTER_NOTE = (
    " Custom fields filter as `custom_fields.<key>=value`, with suffixes `__gt`, `__gte`, `__lt`, `__lte`, "
    "`__in` (comma separated) and `__isnull`."
)


def _list_description(plural: str, filterset: type[ListFilterSet]) -> str:
    note = CUSTOM_FILTER_NOTE if filterset.custom_fields_of is not None else ""
    return f"List {plural}, filtered by the query parameters.{note}"


# What an export (stratus.imports) takes: the list's filters and orderings.
EXPORTS: dict[str, tuple[type[ListFilterSet], Mapping[str, tuple[str, ...]]]] = {
    "companies": (CompanyFilterSet, selectors.COMPANY_ORDERINGS),
    "contacts": (ContactFilterSet, selectors.CONTACT_ORDERINGS),
    "deals": (DealFilterSet, selectors.DEAL_ORDERINGS),
}


def export_parameters(kind: str) -> list[OpenApiParameter]:
    """The query parameters of the CSV export of ``kind``: the list's filters and orderings."""
    filterset, orderings = EXPORTS[kind]
    ordering = {"type": "string", "enum": ["", *orderings, *(f"-{name}" for name in orderings)]}
    return [
        *filter_parameters(filterset),
        OpenApiParameter(
            "ordering", ordering, OpenApiParameter.QUERY, description="Sort key; - for descending."
        ),
    ]


# --- record views (companies, contacts, deals, activities) ---------------------------------------

Record = Company | Contact | Deal | Activity


class RecordListView(OrganizationListEndpoint):
    """List (filtered by query parameters, keyset-paginated) and create records of one kind."""

    # A subclass names its serializers, orderings and detail route, and calls its list selector
    # (``listed``) and create service (``create``). The docstring is the operations' description.

    permission_classes = (ReadViewerWriteMember,)
    orderings: Mapping[str, tuple[str, ...]]
    write_serializer: type[serializers.Serializer]
    detail_route: str

    def listed(self, filters: QueryDict, ordering: str | None) -> QuerySet[Any]:
        raise NotImplementedError

    def create(self, data: dict[str, Any]) -> Record:
        """Create the record with the service and read it back with the selector."""
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        # The pagination orders the page (and refuses unknown orderings); the selector is told
        # the ordering too, since the plan of a search depends on it.
        sent = request.query_params.get(KeysetPagination.ordering_param)
        ordering = sent if sent and sent.removeprefix("-") in self.orderings else None
        page = self.paginate_queryset(self.listed(request.query_params, ordering))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        record = self.create(self.validated(self.write_serializer))
        return Response(
            self.get_serializer(record).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse(self.detail_route, args=[record.pk])},
        )


class RecordDetailView(OrganizationEndpoint):
    """Read, change (PATCH: the fields sent; PUT: the whole record) and delete one record."""

    # A subclass reads the record with its selector (``read``) and calls its update and delete
    # services (``change``, ``remove``). The docstring is the operations' description.

    permission_classes = (ReadViewerWriteMember,)
    serializer_class: type[serializers.Serializer]
    write_serializer: type[serializers.Serializer]

    def read(self, pk: int) -> Record:
        raise NotImplementedError

    def change(self, record: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def remove(self, record: Any) -> None:
        raise NotImplementedError

    def _answer(self, record: Record) -> Response:
        return Response(self.serializer_class(record).data, headers={"ETag": versions.etag(record)})

    def get(self, request: Request, pk: int) -> Response:
        return self._answer(self.read(pk))

    def _update(self, pk: int, *, partial: bool) -> Response:
        record = self.read(pk)
        if_match = self.request.headers.get("If-Match")
        try:
            # RFC 9110 §13.2.1: the precondition before the content (a stale write is a 412 even
            # with invalid input); the service compares again under its row lock.
            expected = (
                versions.expected_version(if_match, record.updated_at) if if_match is not None else None
            )
            versions.check_unchanged(record, expected)
            data = self.validated(self.write_serializer, partial=partial)
            if not partial and "custom_fields" in data:
                # PUT replaces: custom values not sent are removed.
                current = getattr(record, "custom_fields", None) or {}
                data["custom_fields"] = {**dict.fromkeys(current), **data["custom_fields"]}
            self.change(record, {**data, "expected_updated_at": expected})
        except Conflict as refused:
            if if_match is not None and refused.code == CrmCode.STALE:
                raise PreconditionFailed(refused.message, code=refused.code) from None
            raise
        return self._answer(self.read(pk))

    def patch(self, request: Request, pk: int) -> Response:
        return self._update(pk, partial=True)

    def put(self, request: Request, pk: int) -> Response:
        return self._update(pk, partial=False)

    def delete(self, request: Request, pk: int) -> Response:
        self.remove(self.read(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordTimelineView(OrganizationListEndpoint):
    """What happened to one record (and its activities), newest first."""

    permission_classes = (ReadViewerWriteMember,)
    serializer_class = TimelineEntrySerializer
    queryset = TimelineEntry.objects.none()
    orderings = {"created_at": ("created_at",)}

    def read(self, pk: int) -> Record | Pipeline:
        raise NotImplementedError

    @extend_schema(responses={200: TimelineEntrySerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        entries = selectors.timeline_for_record(org=self.org, record=self.read(pk))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _list_schema(
    tag: str,
    plural: str,
    read: type[serializers.Serializer],
    write: type[serializers.Serializer],
    filterset: type[ListFilterSet],
) -> Any:
    return extend_schema_view(
        get=extend_schema(
            tags=[tag],
            parameters=filter_parameters(filterset),
            responses={200: read(many=True)},
            description=_list_description(plural, filterset),
        ),
        post=extend_schema(tags=[tag], request=write, responses={201: read}),
    )


ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="The record's version; send it back in `If-Match` to change only this version.",
)
IF_MATCH_HEADER = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Change the record only if it is still at this version (an `ETag` a read returned; "
        "`*` for any). A record changed since is refused with 412 and nothing is written."
    ),
)


def _detail_schema(tag: str, read: type[serializers.Serializer], write: type[serializers.Serializer]) -> Any:
    return extend_schema_view(
        get=extend_schema(tags=[tag], responses={200: read}, parameters=[ETAG_HEADER]),
        patch=extend_schema(
            tags=[tag], request=write, responses={200: read}, parameters=[IF_MATCH_HEADER, ETAG_HEADER]
        ),
        put=extend_schema(
            tags=[tag], request=write, responses={200: read}, parameters=[IF_MATCH_HEADER, ETAG_HEADER]
        ),
        delete=extend_schema(tags=[tag], responses={204: None}),
    )


# --- companies


@_list_schema("Companies", "companies", CompanySerializer, CompanyWriteSerializer, CompanyFilterSet)
class CompanyListView(RecordListView):
    serializer_class = CompanySerializer
    write_serializer = CompanyWriteSerializer
    queryset = Company.objects.none()
    orderings = selectors.COMPANY_ORDERINGS
    detail_route = "api-company-detail"

    def listed(self, filters: QueryDict, ordering: str | None) -> QuerySet[Company]:
        return selectors.company_list(org=self.org, filters=filters, ordering=ordering)

    def create(self, data: dict[str, Any]) -> Company:
        company = services.company_create(org=self.org, actor=self.actor, **data)
        return selectors.company_get(org=self.org, pk=company.pk)


@_detail_schema("Companies", CompanySerializer, CompanyWriteSerializer)
class CompanyDetailView(RecordDetailView):
    serializer_class = CompanySerializer
    write_serializer = CompanyWriteSerializer

    def read(self, pk: int) -> Company:
        return selectors.company_get(org=self.org, pk=pk)

    def change(self, record: Company, data: dict[str, Any]) -> None:
        services.company_update(org=self.org, actor=self.actor, company=record.pk, **data)

    def remove(self, record: Company) -> None:
        services.company_delete(org=self.org, actor=self.actor, company=record.pk)


@extend_schema_view(get=extend_schema(tags=["Companies"]))
class CompanyTimelineView(RecordTimelineView):
    def read(self, pk: int) -> Company:
        return selectors.company_get(org=self.org, pk=pk)


# --- contacts


@_list_schema("Contacts", "contacts", ContactSerializer, ContactWriteSerializer, ContactFilterSet)
class ContactListView(RecordListView):
    serializer_class = ContactSerializer
    write_serializer = ContactWriteSerializer
    queryset = Contact.objects.none()
    orderings = selectors.CONTACT_ORDERINGS
    detail_route = "api-contact-detail"

    def listed(self, filters: QueryDict, ordering: str | None) -> QuerySet[Contact]:
        return selectors.contact_list(org=self.org, filters=filters, ordering=ordering)

    def create(self, data: dict[str, Any]) -> Contact:
        contact = services.contact_create(org=self.org, actor=self.actor, **data)
        return selectors.contact_get(org=self.org, pk=contact.pk)


@_detail_schema("Contacts", ContactSerializer, ContactWriteSerializer)
class ContactDetailView(RecordDetailView):
    serializer_class = ContactSerializer
    write_serializer = ContactWriteSerializer

    def read(self, pk: int) -> Contact:
        return selectors.contact_get(org=self.org, pk=pk)

    def change(self, record: Contact, data: dict[str, Any]) -> None:
        services.contact_update(org=self.org, actor=self.actor, contact=record.pk, **data)

    def remove(self, record: Contact) -> None:
        services.contact_delete(org=self.org, actor=self.actor, contact=record.pk)


@extend_schema_view(get=extend_schema(tags=["Contacts"]))
class ContactTimelineView(RecordTimelineView):
    def read(self, pk: int) -> Contact:
        return selectors.contact_get(org=self.org, pk=pk)


# --- deals


@_list_schema("Deals", "deals", DealSerializer, DealWriteSerializer, DealFilterSet)
class DealListView(RecordListView):
    serializer_class = DealSerializer
    write_serializer = DealWriteSerializer
    queryset = Deal.objects.none()
    orderings = selectors.DEAL_ORDERINGS
    detail_route = "api-deal-detail"

    def listed(self, filters: QueryDict, ordering: str | None) -> QuerySet[Deal]:
        return selectors.deal_list(org=self.org, filters=filters, ordering=ordering)

    def create(self, data: dict[str, Any]) -> Deal:
        deal = services.deal_create(org=self.org, actor=self.actor, **data)
        return selectors.deal_get(org=self.org, pk=deal.pk)


@_detail_schema("Deals", DealSerializer, DealWriteSerializer)
class DealDetailView(RecordDetailView):
    serializer_class = DealSerializer
    write_serializer = DealWriteSerializer

    def read(self, pk: int) -> Deal:
        return selectors.deal_get(org=self.org, pk=pk)

    def change(self, record: Deal, data: dict[str, Any]) -> None:
        services.deal_update(org=self.org, actor=self.actor, deal=record.pk, **data)

    def remove(self, record: Deal) -> None:
        services.deal_delete(org=self.org, actor=self.actor, deal=record.pk)


@extend_schema_view(get=extend_schema(tags=["Deals"]))
class DealTimelineView(RecordTimelineView):
    def read(self, pk: int) -> Deal:
        return selectors.deal_get(org=self.org, pk=pk)


class DealMoveView(OrganizationAction):
    """Move a deal to another stage (of any pipeline); answers with the updated deal."""

    @extend_schema(tags=["Deals"], request=DealMoveSerializer, responses={200: DealSerializer})
    def post(self, request: Request, pk: int) -> Response:
        deal = selectors.deal_get(org=self.org, pk=pk)
        data = self.validated(DealMoveSerializer)
        services.deal_move(
            org=self.org, actor=self.actor, deal=deal.pk, stage=data["stage"], lost_reason=data["lost_reason"]
        )
        return Response(DealSerializer(selectors.deal_get(org=self.org, pk=pk)).data)


# --- activities


@_list_schema("Activities", "activities", ActivitySerializer, ActivityWriteSerializer, ActivityFilterSet)
class ActivityListView(RecordListView):
    serializer_class = ActivitySerializer
    write_serializer = ActivityWriteSerializer
    queryset = Activity.objects.none()
    orderings = selectors.ACTIVITY_ORDERINGS
    detail_route = "api-activity-detail"

    def listed(self, filters: QueryDict, ordering: str | None) -> QuerySet[Activity]:
        return selectors.activity_list(org=self.org, filters=filters, ordering=ordering)

    def create(self, data: dict[str, Any]) -> Activity:
        activity = services.activity_create(org=self.org, actor=self.actor, **data)
        return selectors.activity_get(org=self.org, pk=activity.pk)


@_detail_schema("Activities", ActivitySerializer, ActivityWriteSerializer)
class ActivityDetailView(RecordDetailView):
    serializer_class = ActivitySerializer
    write_serializer = ActivityWriteSerializer

    def read(self, pk: int) -> Activity:
        return selectors.activity_get(org=self.org, pk=pk)

    def change(self, record: Activity, data: dict[str, Any]) -> None:
        services.activity_update(org=self.org, actor=self.actor, activity=record.pk, **data)

    def remove(self, record: Activity) -> None:
        services.activity_delete(org=self.org, actor=self.actor, activity=record.pk)


@extend_schema_view(get=extend_schema(tags=["Activities"]))
class ActivityTimelineView(RecordTimelineView):
    def read(self, pk: int) -> Activity:
        return selectors.activity_get(org=self.org, pk=pk)


# --- pipelines, stages, custom fields (admins change them) -----------------------------------


class PipelineListView(OrganizationListEndpoint):
    """The organization's pipelines with their stages, in board order; admins add pipelines."""

    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = PipelineSerializer
    queryset = Pipeline.objects.none()
    orderings = {"position": ("position",), "created_at": ("created_at",)}
    ordering = "position"

    @extend_schema(tags=["Pipelines"], responses={200: PipelineSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.pipeline_list(org=self.org))
        return self.get_paginated_response(PipelineSerializer(page, many=True).data)

    @extend_schema(tags=["Pipelines"], request=PipelineCreateSerializer, responses={201: PipelineSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(PipelineCreateSerializer)
        pipeline = services.pipeline_create(org=self.org, actor=self.actor, **data)
        fresh = selectors.pipeline_get(org=self.org, pk=pipeline.pk)
        return Response(
            PipelineSerializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-pipeline-detail", args=[pipeline.pk])},
        )


class PipelineDetailView(OrganizationEndpoint):
    """One pipeline with its stages; admins rename, reorder, make default or delete it."""

    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], responses={200: PipelineSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(PipelineSerializer(selectors.pipeline_get(org=self.org, pk=pk)).data)

    @extend_schema(tags=["Pipelines"], request=PipelineUpdateSerializer, responses={200: PipelineSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=self.org, pk=pk)
        data = self.validated(PipelineUpdateSerializer, partial=True)
        services.pipeline_update(org=self.org, actor=self.actor, pipeline=pipeline.pk, **data)
        return Response(PipelineSerializer(selectors.pipeline_get(org=self.org, pk=pk)).data)

    @extend_schema(tags=["Pipelines"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=self.org, pk=pk)
        services.pipeline_delete(org=self.org, actor=self.actor, pipeline=pipeline.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineStageCreateView(OrganizationAction):
    """Add a stage to a pipeline (admins)."""

    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], request=StageCreateSerializer, responses={201: StageSerializer})
    def post(self, request: Request, pk: int) -> Response:
        pipeline = selectors.pipeline_get(org=self.org, pk=pk)
        data = self.validated(StageCreateSerializer)
        stage = services.stage_create(org=self.org, actor=self.actor, pipeline=pipeline.pk, **data)
        fresh = selectors.stage_get(org=self.org, pk=stage.pk)
        return Response(
            StageSerializer(fresh).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-stage-detail", args=[stage.pk])},
        )


class StageDetailView(OrganizationEndpoint):
    """One stage of a pipeline; admins change or delete it."""

    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Pipelines"], responses={200: StageSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(StageSerializer(selectors.stage_get(org=self.org, pk=pk)).data)

    @extend_schema(tags=["Pipelines"], request=StageUpdateSerializer, responses={200: StageSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        stage = selectors.stage_get(org=self.org, pk=pk)
        data = self.validated(StageUpdateSerializer, partial=True)
        services.stage_update(org=self.org, actor=self.actor, stage=stage.pk, **data)
        return Response(StageSerializer(selectors.stage_get(org=self.org, pk=pk)).data)

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
        stage = selectors.stage_get(org=self.org, pk=pk)
        services.stage_delete(
            org=self.org, actor=self.actor, stage=stage.pk, move_deals_to=query_id(request, "move_deals_to")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PipelineTimelineView(RecordTimelineView):
    """What happened to one pipeline, newest first."""

    def read(self, pk: int) -> Pipeline:
        return selectors.pipeline_get(org=self.org, pk=pk)


class CustomFieldListView(OrganizationListEndpoint):
    """The custom fields defined for each record type; admins define new ones."""

    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = CustomFieldSerializer
    queryset = CustomField.objects.none()
    orderings = {"position": ("position",), "created_at": ("created_at",)}
    ordering = "position"

    @extend_schema(
        tags=["Custom fields"],
        parameters=filter_parameters(CustomFieldFilterSet),
        responses={200: CustomFieldSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        fields = selectors.custom_field_list(org=self.org, entity=request.query_params.get("entity") or None)
        page = self.paginate_queryset(fields)
        return self.get_paginated_response(CustomFieldSerializer(page, many=True).data)

    @extend_schema(
        tags=["Custom fields"], request=CustomFieldCreateSerializer, responses={201: CustomFieldSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(CustomFieldCreateSerializer)
        field = services.custom_field_create(org=self.org, actor=self.actor, **data)
        return Response(
            CustomFieldSerializer(field).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-custom-field-detail", args=[field.pk])},
        )


class CustomFieldDetailView(OrganizationEndpoint):
    """One custom field definition; admins change or delete it."""

    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["Custom fields"], responses={200: CustomFieldSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(CustomFieldSerializer(selectors.custom_field_get(org=self.org, pk=pk)).data)

    @extend_schema(
        tags=["Custom fields"], request=CustomFieldUpdateSerializer, responses={200: CustomFieldSerializer}
    )
    def patch(self, request: Request, pk: int) -> Response:
        field = selectors.custom_field_get(org=self.org, pk=pk)
        data = self.validated(CustomFieldUpdateSerializer, partial=True)
        updated = services.custom_field_update(org=self.org, actor=self.actor, field=field.pk, **data)
        return Response(CustomFieldSerializer(updated).data)

    @extend_schema(tags=["Custom fields"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        field = selectors.custom_field_get(org=self.org, pk=pk)
        services.custom_field_delete(org=self.org, actor=self.actor, field=field.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagListView(OrganizationListEndpoint):
    """The organization's tags, by name."""

    serializer_class = TagSerializer
    queryset = Tag.objects.none()
    orderings = {"name": ("name",), "created_at": ("created_at",)}
    ordering = "name"

    @extend_schema(tags=["Tags"], responses={200: TagSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.tag_list(org=self.org))
        return self.get_paginated_response(TagSerializer(page, many=True).data)


class TimelineListView(OrganizationListEndpoint):
    """The organization's audit trail: every create, update, delete and stage move."""

    serializer_class = TimelineEntrySerializer
    queryset = TimelineEntry.objects.none()
    orderings = {"created_at": ("created_at",)}

    @extend_schema(
        tags=["Timeline"],
        parameters=filter_parameters(TimelineFilterSet),
        responses={200: TimelineEntrySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        entries = selectors.timeline_list(org=self.org, filters=request.query_params)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)
