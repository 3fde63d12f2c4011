"""REST endpoints for documents (under ``/api/v1/documents/``).

Reading (list, metadata, download) needs the viewer role; uploading, renaming and deleting
the member role, in the organization the document belongs to. Every lookup is scoped by
the caller's organization, so another organization's document answers 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.accounts.models import Organization
from stratus.api.permissions import ReadViewerWriteMember
from stratus.api.schema import exactly_one_of
from stratus.api.serializers import BIGINT_MAX, ID_MAX, ID_MIN, StrictCharField, StrictSerializer
from stratus.api.views import (
    ID_PARAMETER_SCHEMA,
    OrganizationAction,
    OrganizationEndpoint,
    OrganizationListEndpoint,
    query_id,
)
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Company, Contact, Deal
from stratus.documents import selectors, services
from stratus.documents.errors import DocumentCode
from stratus.documents.models import Document, TextReason, TextStatus
from stratus.documents.storage import document_store
from stratus.platform.errors import ApplicationError, Invalid, TooLarge

TARGET_FIELDS = ("contact", "company", "deal")


def _target(org: Organization, data: Any, *, required: bool) -> Contact | Company | Deal | None:
    given = [field for field in TARGET_FIELDS if data.get(field) not in (None, "")]
    if len(given) > 1 or (required and not given):
        message = "Name exactly one of contact, company or deal."
        raise Invalid(
            message,
            field_errors={field: [message] for field in given or TARGET_FIELDS},
            code=DocumentCode.TARGET_REQUIRED,
        )
    if not given:
        return None
    field = given[0]
    try:
        if field == "contact":
            return crm_selectors.contact_get(org=org, pk=data.get(field))
        if field == "company":
            return crm_selectors.company_get(org=org, pk=data.get(field))
        return crm_selectors.deal_get(org=org, pk=data.get(field))
    except ApplicationError as error:
        error.field_errors = {field: [f"No {field} with this id in your organization."]}
        raise


class DocumentSerializer(serializers.ModelSerializer[Document]):
    target_type = serializers.SerializerMethodField()
    target_id = serializers.SerializerMethodField()
    uploaded_by = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="Redirects to a short-lived URL that serves the file as an attachment."
    )
    text_status = serializers.ChoiceField(
        choices=TextStatus.choices,
        read_only=True,
        help_text="Whether the document's text is searchable: `pending` until the worker has read it.",
    )
    text_reason = serializers.ChoiceField(
        choices=TextReason.choices,
        read_only=True,
        allow_null=True,
        source="text_reason_or_none",
        help_text="Why it is not searchable (null otherwise).",
    )
    text_detail = serializers.CharField(
        read_only=True,
        help_text="The limit or error that made it not searchable, for people; empty otherwise.",
    )

    class Meta:
        model = Document
        fields = (
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "status",
            "target_type",
            "target_id",
            "contact",
            "company",
            "deal",
            "uploaded_by",
            "created_at",
            "finished_at",
            "download_url",
            "text_status",
            "text_reason",
            "text_detail",
        )
        read_only_fields = fields

    def get_target_type(self, document: Document) -> str:
        return "contact" if document.contact_id else "company" if document.company_id else "deal"

    def get_target_id(self, document: Document) -> int:
        return int(document.contact_id or document.company_id or document.deal_id or 0)

    def get_uploaded_by(self, document: Document) -> dict[str, Any] | None:
        user = document.uploaded_by
        return {"id": user.pk, "email": user.email, "full_name": user.full_name} if user else None

    def get_download_url(self, document: Document) -> str | None:
        if not document.is_ready:
            return None
        request = self.context.get("request")
        path = f"/api/v1/documents/{document.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path


class TargetSerializer(StrictSerializer):
    contact = serializers.IntegerField(
        required=False, min_value=ID_MIN, max_value=ID_MAX, help_text="Attach to this contact ..."
    )
    company = serializers.IntegerField(
        required=False, min_value=ID_MIN, max_value=ID_MAX, help_text="... or this company ..."
    )
    deal = serializers.IntegerField(
        required=False, min_value=ID_MIN, max_value=ID_MAX, help_text="... or this deal (exactly one)."
    )

    schema_rules = exactly_one_of(*TARGET_FIELDS)


class UploadSerializer(TargetSerializer):
    file = serializers.FileField(help_text="The file; its type is detected from its content.")
    name = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Defaults to the file's name (also when empty).",
    )


class UploadStartSerializer(TargetSerializer):
    name = StrictCharField(max_length=1000)
    size = serializers.IntegerField(min_value=0, max_value=BIGINT_MAX, help_text="Exact size in bytes.")
    content_type = StrictCharField(max_length=100, help_text="MIME type; verified against the content.")
    sha256 = StrictCharField(max_length=64, min_length=64, help_text="SHA-256 of the file, hexadecimal.")


class RenameSerializer(StrictSerializer):
    name = StrictCharField(max_length=1000)

    schema_rules = {"required": ["name"]}  # a rename names the new name, PATCH or not


UPLOAD_RESPONSE = inline_serializer(
    "DocumentUploadStarted",
    {
        "document": DocumentSerializer(),
        "upload": inline_serializer(
            "DocumentUploadTarget",
            {
                "url": serializers.URLField(),
                "method": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.CharField()),
                "file_field": serializers.CharField(),
                "expires_at": serializers.DateTimeField(),
            },
        ),
        "finish_url": serializers.URLField(),
    },
)


class DocumentListView(OrganizationListEndpoint):
    permission_classes = (ReadViewerWriteMember,)
    serializer_class = DocumentSerializer
    queryset = Document.objects.none()  # for the schema; requests use the selectors
    parser_classes = (MultiPartParser, FormParser)
    ordering_fields = ("created_at", "name")
    ordering = "-created_at"

    @extend_schema(
        operation_id="documents_list",
        summary="List documents",
        parameters=[
            OpenApiParameter(
                field, ID_PARAMETER_SCHEMA, description=f"Only the documents of this {field} (at most one)"
            )
            for field in TARGET_FIELDS
        ],
        responses={200: DocumentSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        org = self.org
        ids = {field: query_id(request, field) for field in TARGET_FIELDS}
        target = _target(org, ids, required=False)
        page = self.paginate_queryset(selectors.document_list(org=org, target=target))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Upload a small document in one request",
        request={"multipart/form-data": UploadSerializer},
        responses={201: DocumentSerializer},
    )
    def post(self, request: Request) -> Response:
        org = self.org
        limit = settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES
        # Refused before the body is read: the declared length already exceeds what is accepted.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit + 64 * 1024:
            raise TooLarge(
                f"The request is {length} bytes; files above {limit} bytes are uploaded directly "
                "to storage (POST /api/v1/documents/uploads/).",
                field_errors={"file": [f"Must be at most {limit} bytes."]},
                code=DocumentCode.FILE_TOO_LARGE,
            )
        data = self.validated(UploadSerializer)
        target = _target(org, data, required=True)
        assert target is not None
        document = services.document_upload(
            org=org, actor=self.actor, target=target, file=data["file"], name=data.get("name") or None
        )
        return Response(self.get_serializer(document).data, status=status.HTTP_201_CREATED)


class DocumentUploadStartView(OrganizationEndpoint):
    permission_classes = (ReadViewerWriteMember,)
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Start a direct-to-storage upload",
        description=(
            "Records a pending document and returns where to send the bytes: a multipart/form-data "
            "POST of every entry of `upload.fields` followed by the file in the field `file` to "
            "`upload.url` (an S3 presigned POST bound to one key, the exact size and the content type). "
            "Then call `finish_url`: the document becomes visible once its size, SHA-256 and content "
            "type are verified."
        ),
        request=UploadStartSerializer,
        responses={201: UPLOAD_RESPONSE},
    )
    def post(self, request: Request) -> Response:
        org = self.org
        data = self.validated(UploadStartSerializer)
        target = _target(org, data, required=True)
        assert target is not None
        started = services.document_upload_start(
            org=org,
            actor=self.actor,
            target=target,
            name=data["name"],
            size=data["size"],
            content_type=data["content_type"],
            sha256=data["sha256"],
        )
        document = started.document
        return Response(
            {
                "document": DocumentSerializer(document, context={"request": request}).data,
                "upload": {
                    "url": request.build_absolute_uri(started.upload.url),
                    "method": "POST",
                    "fields": started.upload.fields,
                    "file_field": "file",
                    "expires_at": started.upload.expires_at,
                },
                "finish_url": request.build_absolute_uri(f"/api/v1/documents/{document.pk}/finish/"),
            },
            status=status.HTTP_201_CREATED,
        )


class DocumentFinishView(OrganizationAction):
    permission_classes = (ReadViewerWriteMember,)

    @extend_schema(
        summary="Finish a direct-to-storage upload",
        request=None,
        responses={200: DocumentSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        document = services.document_upload_finish(org=self.org, actor=self.actor, document_id=pk)
        return Response(DocumentSerializer(document, context={"request": request}).data)


class DocumentDetailView(OrganizationEndpoint):
    permission_classes = (ReadViewerWriteMember,)
    parser_classes = (JSONParser,)

    @extend_schema(summary="A document's metadata", responses={200: DocumentSerializer})
    def get(self, request: Request, pk: int) -> Response:
        document = selectors.document_get(org=self.org, document_id=pk)
        return Response(DocumentSerializer(document, context={"request": request}).data)

    @extend_schema(summary="Rename a document", request=RenameSerializer, responses={200: DocumentSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        document = selectors.document_get(org=self.org, document_id=pk)  # 404 before any input error
        data = self.validated(RenameSerializer)
        renamed = services.document_rename(
            org=self.org, actor=self.actor, document=document, name=data["name"]
        )
        return Response(DocumentSerializer(renamed, context={"request": request}).data)

    @extend_schema(
        summary="Delete a document (its file is removed once the deletion commits)", responses={204: None}
    )
    def delete(self, request: Request, pk: int) -> Response:
        document = selectors.document_get(org=self.org, document_id=pk, include_pending=True)
        services.document_delete(org=self.org, actor=self.actor, document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _download_link(view: OrganizationEndpoint, request: Request, pk: int) -> tuple[str, Any]:
    document = selectors.document_get(org=view.org, document_id=pk)
    expires = settings.AWS_QUERYSTRING_EXPIRE
    url = document_store().download_url(
        document.key, filename=document.name, content_type=document.content_type, expires=expires
    )
    return request.build_absolute_uri(url), timezone.now() + timedelta(seconds=expires)


class DocumentDownloadView(OrganizationAction):
    permission_classes = (ReadViewerWriteMember,)

    @extend_schema(
        summary="Download a document",
        description="Redirects (302) to a short-lived URL that serves the file as an attachment.",
        responses={302: OpenApiResponse(description="Location: the short-lived download URL")},
    )
    def get(self, request: Request, pk: int) -> HttpResponseRedirect:
        url, _expires_at = _download_link(self, request, pk)
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response


class DocumentDownloadUrlView(OrganizationAction):
    permission_classes = (ReadViewerWriteMember,)

    @extend_schema(
        summary="A short-lived download URL",
        responses={
            200: inline_serializer(
                "DocumentDownloadUrl",
                {"url": serializers.URLField(), "expires_at": serializers.DateTimeField()},
            )
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        url, expires_at = _download_link(self, request, pk)
        response = Response({"url": url, "expires_at": expires_at})
        response["Cache-Control"] = "no-store"
        return response
