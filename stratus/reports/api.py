"""The reports over the API: ``GET /api/v1/reports/<name>``, as JSON or CSV.

One view class per report, built from its contract: the query parameters it documents and
accepts are the contract's filters, and its output serializer is derived from the contract's
dataclasses (so the schema cannot drift from what engines return). CSV comes from DRF's
content negotiation: ``?format=csv`` or ``Accept: text/csv``; the file is the report as one
flat table (see ``contracts.flat_table``), with formula-like cells neutralised. Viewers read.

With ``currency_to`` (and optionally ``rates_on``), a report with money also carries its figures
converted with the organization's exchange rates (``conversion``, see ``conversion.py``), in
JSON and as extra CSV columns. ``/api/v1/exchange-rates`` manages the rates: viewers read,
admins write.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.permissions import ReadViewerWriteAdmin
from stratus.api.renderers import FastJSONRenderer
from stratus.api.serializers import StrictCharField, StrictDateField, StrictSerializer
from stratus.api.views import OrganizationEndpoint, OrganizationListEndpoint
from stratus.crm.filters import DAY
from stratus.imports.exports import stream_csv
from stratus.reports import engines, selectors, services
from stratus.reports.contracts import (
    CURRENCY,
    DATE_FROM,
    DATE_TO,
    OWNER,
    PIPELINE,
    REPORTS,
    ReportContract,
    flat_table,
)
from stratus.reports.conversion import (
    CURRENCY_TO,
    RATES_ON,
    conversion_for,
    conversion_request,
    converted_table,
    has_money,
    response_type,
    with_conversion,
)
from stratus.reports.currencies import ISO_4217_SORTED
from stratus.reports.filters import CURRENCY_PATTERN, report_filters
from stratus.reports.models import RATE_DIGITS, RATE_PLACES, ExchangeRate
from stratus.reports.services import RATE_PATTERN

# --- output serializers, derived from the contracts' dataclasses ----------------------------------


def _field(hint: Any) -> serializers.Field:
    args = typing.get_args(hint)
    nullable = type(None) in args
    if nullable:
        hint = next(a for a in args if a is not type(None))
    options: dict[str, Any] = {"allow_null": True} if nullable else {}
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        if item is str:
            return serializers.ListField(child=serializers.CharField())
        return serializer_for(item)(many=True)
    if dataclasses.is_dataclass(hint):
        return serializer_for(hint)(**options)  # type: ignore[arg-type]
    if hint is bool:
        return serializers.BooleanField(**options)
    if hint is int:
        return serializers.IntegerField(**options)
    if hint is float:
        return serializers.FloatField(**options)
    if hint is decimal.Decimal:
        return serializers.DecimalField(max_digits=None, decimal_places=2, **options)
    if hint is datetime.datetime:
        return serializers.DateTimeField(**options)
    if hint is datetime.date:
        return serializers.DateField(**options)
    if hint is str:
        return serializers.CharField(**options)
    raise TypeError(f"no serializer field for {hint!r}")


@functools.cache
def serializer_for(shape: type) -> type[serializers.Serializer]:
    """A read-only serializer of a contract dataclass (nested lists included)."""
    hints = typing.get_type_hints(shape)
    attrs: dict[str, Any] = {f.name: _field(hints[f.name]) for f in dataclasses.fields(shape)}
    attrs["__module__"] = __name__
    attrs["__doc__"] = (
        shape.__doc__ if shape.__doc__ and not shape.__doc__.startswith(shape.__name__ + "(") else None
    )
    return types.new_class(
        f"{shape.__name__}Serializer", (serializers.Serializer,), {}, lambda ns: ns.update(attrs)
    )


# --- CSV --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CSVTable:
    header: list[str]
    rows: list[list[Any]]


class CSVRenderer(renderers.BaseRenderer):
    """Renders a :class:`CSVTable`; anything else (a problem document) stays JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, CSVTable):
            return "".join(stream_csv(data.header, data.rows)).encode()
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/problem+json"
        return FastJSONRenderer().render(data, None, renderer_context)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


# --- views ------------------------------------------------------------------------------------

# As the lists' filters: strings, where an empty value filters nothing.
_DAY = {"type": "string", "description": "ISO 8601 date", "pattern": f"^$|{DAY['pattern']}"}
_ID = {"type": "string", "pattern": r"^$|^[0-9]+$"}
_PARAMETERS = {
    DATE_FROM: OpenApiParameter(DATE_FROM, _DAY, description="First day of the range (UTC), YYYY-MM-DD."),
    DATE_TO: OpenApiParameter(DATE_TO, _DAY, description="Last day of the range (UTC), YYYY-MM-DD."),
    PIPELINE: OpenApiParameter(PIPELINE, _ID, description="Only deals of this pipeline (id)."),
    OWNER: OpenApiParameter(
        OWNER,
        _ID,
        description="Only records of this member (user id): deal owner, assignee, campaign creator.",
    ),
    CURRENCY: OpenApiParameter(
        CURRENCY,
        {"type": "string", "pattern": "^$|^[A-Z]{3}$"},
        description="Only deals in this currency (ISO 4217).",
    ),
}
_CONVERSION = [
    OpenApiParameter(
        CURRENCY_TO,
        {"type": "string", "pattern": "^$|^[A-Z]{3}$"},
        description=(
            "Also give the money figures converted to this reporting currency (ISO 4217) with the "
            "organization's exchange rates; the answer's `conversion` says which rates were used "
            "and which figures had none. 400 when the organization has no rates into it."
        ),
    ),
    OpenApiParameter(
        RATES_ON,
        _DAY,
        description="The day whose rates apply (the latest rate valid from it or before); "
        "by default `date_to`, else today (UTC).",
    ),
]
_FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="`csv` for a CSV file (as `Accept: text/csv`)."
)


class ReportView(OrganizationEndpoint):
    """Base of the report views; ``contract`` is set per report by :func:`report_view`."""

    contract: ReportContract
    renderer_classes = (FastJSONRenderer, CSVRenderer)

    def get(self, request: Request) -> Response:
        filters = report_filters(
            org=self.org,
            contract=self.contract,
            params=dict(request.query_params.lists()),
            as_of=timezone.now(),
        )
        conversion_asked = conversion_request(
            org=self.org, contract=self.contract, params=dict(request.query_params.lists()), filters=filters
        )
        result = engines.run(self.contract.name, filters)
        conversion = conversion_for(self.org, result, conversion_asked) if conversion_asked else None
        accepted = getattr(request, "accepted_renderer", None)
        if isinstance(accepted, CSVRenderer):
            header, rows = flat_table(result)
            if conversion is not None:
                header, rows = converted_table(self.contract.result, header, rows, conversion)
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            return Response(
                CSVTable(header, [[_cell(v) for v in row] for row in rows]),
                headers={
                    "Content-Disposition": f'attachment; filename="report-{self.contract.name}-{stamp}.csv"'
                },
            )
        if has_money(self.contract):
            return Response(
                serializer_for(response_type(self.contract.result))(with_conversion(result, conversion)).data
            )
        return Response(serializer_for(self.contract.result)(result).data)


def report_view(contract: ReportContract) -> type[ReportView]:
    """The view of one report, documented with its own filters and output shape."""

    def get(self: ReportView, request: Request) -> Response:
        return ReportView.get(self, request)

    money = has_money(contract)
    documented = extend_schema(
        operation_id=f"reports_{contract.name.replace('-', '_')}",
        summary=contract.title,
        description=(
            f"{contract.description} Money is never summed across currencies: each money figure "
            "is in a row with its currency"
            + (
                "; with `currency_to`, the figures are also given converted with the organization's "
                "exchange rates, in `conversion` (the rates used, the figures left unconverted)."
                if money
                else "."
            )
        ),
        tags=["reports"],
        parameters=[
            *(_PARAMETERS[name] for name in contract.filters),
            *(_CONVERSION if money else ()),
            _FORMAT,
        ],
        responses={
            (200, "application/json"): serializer_for(
                response_type(contract.result) if money else contract.result
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The report as one CSV table."),
        },
    )(get)
    name = f"{contract.result.__name__}View"
    return type(name, (ReportView,), {"contract": contract, "get": documented, "__module__": __name__})


VIEWS = {name: report_view(contract) for name, contract in REPORTS.items()}


# --- exchange rates ---------------------------------------------------------------------------


class ExchangeRateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField(help_text="ISO 4217 code of the currency converted.")
    currency_to = serializers.CharField(help_text="ISO 4217 code of the reporting currency.")
    rate = serializers.DecimalField(
        max_digits=RATE_DIGITS,
        decimal_places=RATE_PLACES,
        help_text="Units of currency_to worth one unit of currency (exact, as a string).",
    )
    valid_from = serializers.DateField(
        help_text="First day (UTC) the rate applies, until the pair's next rate."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


_CODE_RULES = {"type": "string", "enum": list(ISO_4217_SORTED)}
_RATE_RULES = {"type": "string", "pattern": RATE_PATTERN.pattern}


class ExchangeRateCreateSerializer(StrictSerializer):
    currency = StrictCharField(max_length=3, help_text="ISO 4217 code, e.g. USD.")
    currency_to = StrictCharField(
        max_length=3, help_text="ISO 4217 code of the reporting currency, e.g. EUR."
    )
    rate = StrictCharField(
        max_length=30, help_text='Units of currency_to per unit of currency, > 0, e.g. "0.9234".'
    )
    valid_from = StrictDateField(help_text="First day (UTC) the rate applies.")

    schema_rules = {"properties": {"currency": _CODE_RULES, "currency_to": _CODE_RULES, "rate": _RATE_RULES}}


class ExchangeRateUpdateSerializer(ExchangeRateCreateSerializer):
    pass


class ExchangeRateListView(OrganizationListEndpoint):
    """The organization's exchange rates for reports; admins add them."""

    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = ExchangeRateSerializer
    queryset = ExchangeRate.objects.none()
    orderings = {"valid_from": ("valid_from",), "created_at": ("created_at",)}
    ordering = "-valid_from"

    @extend_schema(
        tags=["exchange rates"],
        parameters=[
            OpenApiParameter(
                CURRENCY_TO,
                {"type": "string", "pattern": "^$|^[A-Z]{3}$"},
                description="Only rates into this reporting currency.",
            )
        ],
        responses={200: ExchangeRateSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        currency_to = request.query_params.get(CURRENCY_TO) or None
        if currency_to is not None and not CURRENCY_PATTERN.match(currency_to):
            raise serializers.ValidationError(
                {CURRENCY_TO: ["Must be a three-letter ISO 4217 code in capitals."]}
            )
        page = self.paginate_queryset(selectors.exchange_rate_list(org=self.org, currency_to=currency_to))
        return self.get_paginated_response(ExchangeRateSerializer(page, many=True).data)

    @extend_schema(
        tags=["exchange rates"], request=ExchangeRateCreateSerializer, responses={201: ExchangeRateSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ExchangeRateCreateSerializer)
        rate = services.exchange_rate_create(org=self.org, actor=self.actor, **data)
        return Response(
            ExchangeRateSerializer(rate).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-exchange-rate-detail", args=[rate.pk])},
        )


class ExchangeRateDetailView(OrganizationEndpoint):
    """One exchange rate; admins change or delete it."""

    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(tags=["exchange rates"], responses={200: ExchangeRateSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExchangeRateSerializer(selectors.exchange_rate_get(org=self.org, pk=pk)).data)

    @extend_schema(
        tags=["exchange rates"], request=ExchangeRateUpdateSerializer, responses={200: ExchangeRateSerializer}
    )
    def patch(self, request: Request, pk: int) -> Response:
        selectors.exchange_rate_get(org=self.org, pk=pk)
        data = self.validated(ExchangeRateUpdateSerializer, partial=True)
        rate = services.exchange_rate_update(org=self.org, actor=self.actor, pk=pk, **data)
        return Response(ExchangeRateSerializer(rate).data)

    @extend_schema(tags=["exchange rates"], responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.exchange_rate_delete(org=self.org, actor=self.actor, pk=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
