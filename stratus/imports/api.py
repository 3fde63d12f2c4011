"""CSV import and export over the API.

``POST /api/v1/imports`` (multipart: ``file``, ``kind``, optional ``dedup_policy``,
``encoding``, ``delimiter``, ``mapping`` as a JSON object ``{"Header": "field" or null}``)
checks the file's head at once (clear 400s) and queues the job; ``GET /api/v1/imports/<id>``
reports progress; ``/errors.csv`` is the error report. ``POST /api/v1/imports/analyse`` shows
the detected mapping without importing. ``GET /api/v1/exports/<contacts|companies|deals>.csv``
streams a list with the same filters as the list endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.schema import AutoSchema
from stratus.api.views import (
    OrganizationAction,
    OrganizationEndpoint,
    OrganizationListEndpoint,
    query_filters,
)
from stratus.crm.api import export_parameters
from stratus.imports import exports, mapping, selectors, services
from stratus.imports.models import DedupPolicy, ImportJob, ImportKind
from stratus.platform import json_depth


class ImportJobSerializer(serializers.ModelSerializer):
    mapping = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    error_report = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "kind",
            "original_name",
            "size",
            "encoding",
            "delimiter",
            "mapping",
            "dedup_policy",
            "state",
            "error",
            "rows_total",
            "rows_done",
            "percent",
            "created",
            "updated",
            "skipped",
            "failed",
            "error_report",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    def get_mapping(self, job: ImportJob) -> list[dict[str, str | None]]:
        return [{"column": h, "field": f or None} for h, f in zip(job.headers, job.mapping, strict=False)]

    def get_percent(self, job: ImportJob) -> float | None:
        if not job.rows_total:
            return 100.0 if job.state == "done" else None
        return round(100 * job.rows_done / job.rows_total, 1)

    def get_error_report(self, job: ImportJob) -> str | None:
        return f"/api/v1/imports/{job.pk}/errors.csv" if job.failed else None


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    dedup_policy = serializers.ChoiceField(choices=DedupPolicy.choices, default=DedupPolicy.SKIP)
    encoding = serializers.CharField(required=False, allow_blank=True, max_length=40)
    delimiter = serializers.CharField(required=False, allow_blank=True, max_length=1, trim_whitespace=False)
    mapping = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='JSON object: {"Column header": "field" or null to ignore}.',
    )

    def validate_mapping(self, value: str) -> dict[str, str | None]:
        if not value:
            return {}
        try:
            parsed = json_depth.loads(value)
        except json_depth.JsonTooDeep as error:
            raise serializers.ValidationError(str(error)) from None
        except ValueError:
            raise serializers.ValidationError("Must be a JSON object.") from None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in parsed.items()
        ):
            raise serializers.ValidationError('Must be a JSON object of "header": "field" or null.')
        return parsed


class AnalysisSerializer(serializers.Serializer):
    encoding = serializers.CharField()
    delimiter = serializers.CharField()
    mapping = serializers.ListField(child=serializers.DictField())
    available_fields = serializers.ListField(
        child=serializers.CharField(), help_text="Fields a column may map to."
    )


def _upload_options(view: OrganizationEndpoint) -> dict[str, Any]:
    data = view.validated(ImportUploadSerializer)
    return {
        "kind": data["kind"],
        "upload": data["file"],
        "dedup_policy": data["dedup_policy"],
        "encoding": data.get("encoding") or None,
        "delimiter": data.get("delimiter") or None,
        "mapping": data.get("mapping") or {},
    }


class ImportListView(OrganizationListEndpoint, generics.ListAPIView):
    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.none()
    parser_classes = (MultiPartParser, FormParser)
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[ImportJob]:
        return selectors.import_list(org=self.org)

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer}, responses={202: ImportJobSerializer}
    )
    def post(self, request: Request) -> Response:
        options = _upload_options(self)
        job = services.import_create(org=self.org, actor=self.actor, **options)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportAnalyseView(OrganizationAction):
    """The encoding, delimiter and column mapping an import of this file would use."""

    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer}, responses={200: AnalysisSerializer}
    )
    def post(self, request: Request) -> Response:
        options = _upload_options(self)
        upload = options.pop("upload")
        sample = upload.read(mapping.SAMPLE_BYTES)
        analysis = services.import_analyse(
            org=self.org,
            kind=options["kind"],
            sample=sample,
            encoding=options["encoding"],
            delimiter=options["delimiter"],
            overrides=options["mapping"],
            dedup_policy=options["dedup_policy"],
        )
        return Response(
            {
                "encoding": analysis.encoding,
                "delimiter": analysis.delimiter,
                "mapping": [
                    {"column": h, "field": f or None}
                    for h, f in zip(analysis.headers, analysis.mapping, strict=True)
                ],
                "available_fields": analysis.available_fields,
            }
        )


class ImportDetailView(OrganizationEndpoint):
    @extend_schema(responses={200: ImportJobSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ImportJobSerializer(selectors.import_get(org=self.org, job_id=pk)).data)


class ImportCancelView(OrganizationAction):
    @extend_schema(request=None, responses={200: ImportJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        job = services.import_cancel(org=self.org, job=selectors.import_get(org=self.org, job_id=pk))
        return Response(ImportJobSerializer(job).data)


def _error_report(job: ImportJob) -> Iterator[list[Any]]:
    for error in selectors.import_row_errors(job=job):
        yield [error.row_number, error.reason, *error.values]


class ImportErrorReportView(OrganizationAction):
    """Every row that was not imported: its row number in the file, the reason, its cells."""

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        job = selectors.import_get(org=self.org, job_id=pk)
        rows = exports.stream_csv(["row", "reason", *job.headers], _error_report(job))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


class ExportSchema(AutoSchema):
    """An export documents the filters and orderings of its list."""

    def get_override_parameters(self) -> list[Any]:
        view: Any = self.view
        return [*super().get_override_parameters(), *export_parameters(view.kind)]


class ExportView(OrganizationEndpoint):
    """A filtered list as CSV, streamed; query parameters are the list endpoint's filters."""

    kind = "contacts"
    schema = ExportSchema()

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        rows = exports.export_csv(
            org=self.org,
            kind=self.kind,
            filters=query_filters(request),
            ordering=request.query_params.get("ordering") or None,
        )
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="{self.kind}-{stamp}.csv"'
        return response
