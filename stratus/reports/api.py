"""The reports over the API: ``GET /api/v1/reports/<name>``, as JSON or CSV.

One view class per report, built from its contract: the query parameters it documents and
accepts are the contract's filters, and its output serializer is derived from the contract's
dataclasses (so the schema cannot drift from what engines return). CSV comes from DRF's
content negotiation: ``?format=csv`` or ``Accept: text/csv``; the file is the report as one
flat table (see ``contracts.flat_table``), with formula-like cells neutralised. Viewers read.
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

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.renderers import FastJSONRenderer
from stratus.api.views import OrganizationEndpoint
from stratus.crm.filters import DAY
from stratus.imports.exports import stream_csv
from stratus.reports import engines
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
from stratus.reports.filters import report_filters

# --- output serializers, derived from the contracts' dataclasses ----------------------------------


def _field(hint: Any) -> serializers.Field:
    args = typing.get_args(hint)
    nullable = type(None) in args
    if nullable:
        hint = next(a for a in args if a is not type(None))
    options: dict[str, Any] = {"allow_null": True} if nullable else {}
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
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
        result = engines.run(self.contract.name, filters)
        accepted = getattr(request, "accepted_renderer", None)
        if isinstance(accepted, CSVRenderer):
            header, rows = flat_table(result)
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            return Response(
                CSVTable(header, [[_cell(v) for v in row] for row in rows]),
                headers={
                    "Content-Disposition": f'attachment; filename="report-{self.contract.name}-{stamp}.csv"'
                },
            )
        return Response(serializer_for(self.contract.result)(result).data)


def report_view(contract: ReportContract) -> type[ReportView]:
    """The view of one report, documented with its own filters and output shape."""

    def get(self: ReportView, request: Request) -> Response:
        return ReportView.get(self, request)

    documented = extend_schema(
        operation_id=f"reports_{contract.name.replace('-', '_')}",
        summary=contract.title,
        description=(
            f"{contract.description} Money is never summed across currencies: each money figure "
            "is in a row with its currency (no conversion)."
        ),
        tags=["reports"],
        parameters=[*(_PARAMETERS[name] for name in contract.filters), _FORMAT],
        responses={
            (200, "application/json"): serializer_for(contract.result),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The report as one CSV table."),
        },
    )(get)
    name = f"{contract.result.__name__}View"
    return type(name, (ReportView,), {"contract": contract, "get": documented, "__module__": __name__})


VIEWS = {name: report_view(contract) for name, contract in REPORTS.items()}
