"""``GET /api/v1/search``: passages by meaning, by words or both."""

from __future__ import annotations

import datetime
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.permissions import ReadViewerWriteViewer
from stratus.api.serializers import ID_MAX, ID_MIN
from stratus.api.views import OrganizationEndpoint
from stratus.knowledge import selectors
from stratus.knowledge.models import RecordType

MODES = ("meaning", "words", "both")
MAX_QUERY_CHARS = 500


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_CHARS, trim_whitespace=True)
    mode = serializers.ChoiceField(choices=MODES, default="both")
    type = serializers.ListField(child=serializers.ChoiceField(choices=RecordType.values), required=False)
    owner = serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


class RecordSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=RecordType.values)
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(help_text="The record's page in the browser app.")


class PassageSerializer(serializers.Serializer):
    record = RecordSerializer()
    text = serializers.CharField(help_text="The matched passage.")
    start = serializers.IntegerField(help_text="Offset of the passage in the record's text (in its page).")
    page = serializers.IntegerField(allow_null=True, help_text="The document's page, from 1; null otherwise.")
    score = serializers.FloatField(
        help_text=(
            "meaning: cosine similarity; words: 1/rank; both: weighted reciprocal rank fusion score "
            "(docs/search.md)."
        )
    )
    matched_by = serializers.ListField(child=serializers.ChoiceField(choices=("meaning", "words")))


class SearchResponseSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=MODES)
    results = PassageSerializer(many=True)


def _day(value: datetime.date | None, *, after: bool = False) -> datetime.datetime | None:
    if value is None:
        return None
    day = value + datetime.timedelta(days=1) if after else value
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


class SearchView(OrganizationEndpoint):
    permission_classes = (ReadViewerWriteViewer,)

    @extend_schema(
        operation_id="search",
        summary="Search passages by meaning, by words or both",
        parameters=[
            OpenApiParameter(
                "q",
                str,
                required=True,
                pattern=r"^[^\x00]*\S[^\x00]*$",  # some text that is not blank
                description="What to look for, as a person would ask it (at most 500 characters).",
            ),
            OpenApiParameter(
                "mode",
                str,
                enum=list(MODES),
                description="Default: both (weighted reciprocal rank fusion of meaning and words).",
            ),
            OpenApiParameter(
                "type",
                str,
                many=True,
                enum=RecordType.values,
                description="Only these record types (repeat).",
            ),
            OpenApiParameter(
                "owner",
                {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX},
                description="Only records owned by (activities: assigned to) this user id.",
            ),
            OpenApiParameter(
                "date_from", datetime.date, description="Records created on or after this day (UTC)."
            ),
            OpenApiParameter(
                "date_to", datetime.date, description="Records created on or before this day (UTC)."
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                description="At most this many passages (1 to 50, default 10).",
            ),
        ],
        responses={200: SearchResponseSerializer},
    )
    def get(self, request: Request) -> Response:
        # An empty value is the same as none (as forms send), like the lists' filters.
        params: dict[str, Any] = {
            key: value for key in request.query_params if (value := request.query_params.get(key)) != ""
        }
        types = [value for value in request.query_params.getlist("type") if value != ""]
        if types:
            params["type"] = types
        serializer = SearchQuerySerializer(data=params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filters = selectors.Filters(
            record_types=tuple(data.get("type") or ()),
            owner_id=data.get("owner"),
            date_from=_day(data.get("date_from")),
            date_to=_day(data.get("date_to"), after=True),
        )
        results = selectors.search(
            org=self.org, query=data["q"], mode=data["mode"], filters=filters, limit=data["limit"]
        )
        body = {
            "mode": data["mode"],
            "results": [
                {
                    "record": {"type": r.record_type, "id": r.record_id, "title": r.title, "url": r.url},
                    "text": r.text,
                    "start": r.start,
                    "page": r.page,
                    "score": r.score,
                    "matched_by": r.sources,
                }
                for r in results
            ],
        }
        return Response(SearchResponseSerializer(body).data)
