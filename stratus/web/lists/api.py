"""Export jobs over the API: the browser's "Export CSV" of a list, for API clients.

``POST /api/v1/export-jobs`` queues an export of a list (``kind``, its ``filters`` as the list
endpoint takes them, ``ordering``, ``columns``) exactly as the list page's button does, through
the same service (``exports.export_job_create``); ``GET /api/v1/export-jobs/<id>`` reads its
state and progress; ``GET /api/v1/export-jobs/<id>/download`` gives the short-lived link to the
file (a presigned URL on S3, a signed link on the embedded default). The browser's rules hold:
every member may export, viewers included (exporting is reading); an export is its starter's
(another member's, or another organization's, answers 404); the link is refused with 409 until
the file is written and with 410 once the export has expired.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.permissions import ReadViewerWriteViewer
from stratus.api.serializers import StrictCharField, StrictChoiceField, StrictListField, StrictSerializer
from stratus.api.views import OrganizationAction, OrganizationEndpoint
from stratus.platform.errors import Conflict, Gone, Invalid, NotFound
from stratus.web.lists import exports, selectors
from stratus.web.lists.specs import SPECS
from stratus.web.models import BulkState, ExportJob

FILTERS_MAX = 50
FILTER_VALUES_MAX = 100


class ExportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="The list exported: contacts, companies, deals or activities.")
    filters = serializers.JSONField(help_text="The list's filters, as kept for the export.")
    ordering = serializers.CharField(help_text="The list's sort; empty for its default order.")
    columns = serializers.ListField(child=serializers.CharField(), help_text="Column keys, in order.")
    state = serializers.ChoiceField(choices=BulkState.choices)
    total = serializers.IntegerField(allow_null=True, help_text="Rows to write; null until counted.")
    done = serializers.IntegerField(help_text="Rows written so far.")
    percent = serializers.IntegerField()
    attempts = serializers.IntegerField(help_text="Runs started (a failing export gives up after a few).")
    error = serializers.CharField(help_text="Why the export failed (or why an attempt is retried).")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(help_text="After this the file is refused (410) and deleted.")
    expired = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField(
        help_text="Where to ask for the file's link, once it is ready."
    )

    def get_expired(self, job: ExportJob) -> bool:
        return bool(job.file_deleted or job.expires_at <= timezone.now())

    def get_download(self, job: ExportJob) -> str | None:
        if job.state != BulkState.DONE or self.get_expired(job):
            return None
        return reverse("api-export-job-download", args=[job.pk])


class ExportJobCreateSerializer(StrictSerializer):
    kind = StrictChoiceField(choices=sorted(SPECS))
    filters = serializers.JSONField(
        required=False,
        default=dict,
        help_text='The filters as the list endpoint takes them, e.g. {"owner": "12", "tags": ["vip"]}.',
    )
    ordering = StrictCharField(required=False, default="", allow_blank=True, max_length=60)
    columns = StrictListField(
        child=StrictCharField(max_length=80), required=False, default=list, max_length=100
    )

    schema_rules = {
        "properties": {
            "filters": {
                "type": "object",
                "maxProperties": FILTERS_MAX,
                "additionalProperties": {
                    "oneOf": [
                        {"type": "string", "maxLength": 1000},
                        {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 1000},
                            "maxItems": FILTER_VALUES_MAX,
                        },
                    ]
                },
            }
        }
    }

    def validate_filters(self, value: Any) -> dict[str, Any]:
        message = (
            f"Must be an object of at most {FILTERS_MAX} filters, each a string or a list of at most "
            f"{FILTER_VALUES_MAX} strings (of at most 1000 characters)."
        )
        if not isinstance(value, dict) or len(value) > FILTERS_MAX:
            raise serializers.ValidationError(message)
        for name, given in value.items():
            values = given if isinstance(given, list) else [given]
            if (
                len(name) > 60
                or len(values) > FILTER_VALUES_MAX
                or not all(isinstance(v, str) and len(v) <= 1000 for v in values)
            ):
                raise serializers.ValidationError(message)
        return value


class DownloadLinkSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The file: a short-lived link, to be fetched without credentials.")
    expires_at = serializers.DateTimeField(help_text="When the link stops working.")
    file_name = serializers.CharField()


class ExportJobListView(OrganizationAction):
    """Start an export of a list; every member may (exporting is reading)."""

    permission_classes = (ReadViewerWriteViewer,)

    @extend_schema(
        tags=["export jobs"],
        request=ExportJobCreateSerializer,
        responses={202: ExportJobSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ExportJobCreateSerializer)
        job = exports.export_job_create(org=self.org, actor=self.actor, **_create_args(data))
        return Response(
            ExportJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api-export-job-detail", args=[job.pk])},
        )


def _create_args(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": data["kind"],
        "filters": data.get("filters") or {},
        "ordering": data.get("ordering") or "",
        "columns": data.get("columns") or [],
    }


def _own(view: OrganizationEndpoint, pk: int) -> ExportJob:
    return selectors.export_job_get(org=view.org, user=view.actor, pk=pk)


class ExportJobDetailView(OrganizationEndpoint):
    """An export's state and progress (its starter's only)."""

    @extend_schema(tags=["export jobs"], responses={200: ExportJobSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExportJobSerializer(_own(self, pk)).data)


class ExportJobDownloadView(OrganizationAction):
    """The short-lived link to an export's file (its starter's only): 409 while it is being
    written or when it failed, 410 once it has expired."""

    @extend_schema(
        tags=["export jobs"],
        responses={
            200: DownloadLinkSerializer,
            409: OpenApiResponse(
                description="The file is not written yet, or the export failed (the detail says why)."
            ),
            410: OpenApiResponse(description="The export has expired: export the list again."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        job = _own(self, pk)
        try:
            url = exports.export_download_url(job)
        except NotFound:
            raise Conflict(
                "The export failed: " + job.error
                if job.state == BulkState.FAILED
                else "The export is not ready yet.",
                code="export_not_ready",
            ) from None
        except Invalid as refused:
            raise Gone("The export has expired: export the list again.", code="export_expired") from refused
        expires = min(
            timezone.now() + datetime.timedelta(seconds=settings.AWS_QUERYSTRING_EXPIRE), job.expires_at
        )
        response = Response({"url": url, "expires_at": expires, "file_name": job.file_name})
        response["Cache-Control"] = "no-store"
        return response
