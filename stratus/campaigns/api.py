"""Campaigns over the API: segments (with preview), campaigns and their lifecycle, stats,
recipients, and the suppression list. Viewers read; members write."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stratus.api.permissions import ReadViewerWriteAdmin, ReadViewerWriteViewer
from stratus.api.serializers import (
    OrganizationPrimaryKeyRelatedField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictSerializer,
)
from stratus.api.views import ActionView, actor, query_choice
from stratus.campaigns import selectors, services
from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState, Segment, Suppression
from stratus.crm.models import Contact
from stratus.platform.errors import Invalid


def _org(request: Request) -> Any:
    return request.organization  # type: ignore[attr-defined]


def _validated(
    serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- segments ---------------------------------------------------------------------------------


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ("id", "name", "filters", "created_at", "updated_at")
        read_only_fields = fields


class SegmentWriteSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    filters = serializers.DictField(
        help_text='Contact list filters, e.g. {"tags": ["vip"], "created_after": "2026-01-01"}.'
    )


class PreviewRequestSerializer(StrictSerializer):
    filters = serializers.DictField()


class PreviewContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Contacts the filters select.")
    with_email = serializers.IntegerField(help_text="Of those, contacts with an email address.")
    suppressed = serializers.IntegerField(help_text="Of those, addresses on the suppression list.")
    sample = PreviewContactSerializer(many=True)


def _preview(request: Request, filters: dict[str, Any]) -> Response:
    preview = selectors.segment_preview(org=_org(request), filters=filters)
    return Response(
        {
            "count": preview.count,
            "with_email": preview.with_email,
            "suppressed": preview.suppressed,
            "sample": PreviewContactSerializer(preview.sample, many=True).data,
        }
    )


class SegmentListView(generics.ListAPIView):
    serializer_class = SegmentSerializer
    queryset = Segment.objects.none()
    ordering_fields = ("created_at",)
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Segment]:
        return Segment.objects.filter(organization=_org(self.request))

    @extend_schema(request=SegmentWriteSerializer, responses={201: SegmentSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(SegmentWriteSerializer, request)
        segment = services.segment_create(
            org=_org(request),
            actor=request.user,  # type: ignore[arg-type]
            name=data["name"],
            filters=data["filters"],
        )
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentPreviewView(ActionView):
    """Count and sample the contacts some filters select, before saving them as a segment."""

    permission_classes = (ReadViewerWriteViewer,)  # a preview writes nothing

    @extend_schema(request=PreviewRequestSerializer, responses={200: PreviewSerializer})
    def post(self, request: Request) -> Response:
        return _preview(request, _validated(PreviewRequestSerializer, request)["filters"])


def _segment(request: Request, pk: int) -> Segment:
    return get_object_or_404(Segment.objects.filter(organization=_org(request)), pk=pk)


class SegmentDetailView(APIView):
    @extend_schema(responses={200: SegmentSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SegmentSerializer(_segment(request, pk)).data)

    @extend_schema(request=SegmentWriteSerializer, responses={200: SegmentSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        segment = _segment(request, pk)
        data = _validated(SegmentWriteSerializer, request, partial=True)
        segment = services.segment_update(
            org=_org(request), segment=segment, name=data.get("name"), filters=data.get("filters")
        )
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.segment_delete(org=_org(request), segment=_segment(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentMembersPreviewView(ActionView):
    @extend_schema(responses={200: PreviewSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return _preview(request, _segment(request, pk).filters)


# --- campaigns --------------------------------------------------------------------------------


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    queued = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    opens = serializers.IntegerField()
    unique_opens = serializers.IntegerField()
    clicks = serializers.IntegerField()
    unique_clicks = serializers.IntegerField()
    unsubscribes = serializers.IntegerField()


CAMPAIGN_FIELDS = (
    "id",
    "name",
    "segment",
    "subject",
    "body_text",
    "body_html",
    "from_name",
    "from_email",
    "reply_to",
    "track_opens",
    "track_clicks",
    "state",
    "scheduled_at",
    "started_at",
    "finished_at",
    "recipients_total",
    "created_at",
    "updated_at",
)


class CampaignSerializer(serializers.ModelSerializer):
    # May be blank (then the organization's default sender applies): plain strings, not "email".
    from_email = serializers.CharField(read_only=True)
    reply_to = serializers.CharField(read_only=True)

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS
        read_only_fields = CAMPAIGN_FIELDS


class CampaignWriteSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    segment = OrganizationPrimaryKeyRelatedField(
        queryset=Segment.objects.all(), required=False, allow_null=True
    )
    subject = StrictCharField(max_length=300)
    body_text = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    body_html = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    from_name = StrictCharField(required=False, allow_blank=True, max_length=200)
    from_email = StrictEmailField(required=False, allow_blank=True)
    reply_to = StrictEmailField(required=False, allow_blank=True)
    track_opens = StrictBooleanField(required=False)
    track_clicks = StrictBooleanField(required=False)


class ScheduleSerializer(StrictSerializer):
    at = StrictDateTimeField(required=False, allow_null=True, help_text="Omit to send now.")


def _campaigns(request: Request) -> QuerySet[Campaign]:
    return Campaign.objects.filter(organization=_org(request))


def _campaign(request: Request, pk: int) -> Campaign:
    return get_object_or_404(_campaigns(request), pk=pk)


class CampaignListView(generics.ListAPIView):
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.none()
    ordering_fields = ("created_at",)
    ordering = "-created_at"

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=CampaignState.values)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Campaign]:
        campaigns = _campaigns(self.request)
        state = query_choice(self.request, "state", CampaignState.values)
        return campaigns.filter(state=state) if state else campaigns

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(CampaignWriteSerializer, request)
        campaign = services.campaign_create(
            org=_org(request),
            actor=request.user,  # type: ignore[arg-type]
            **data,
        )
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(APIView):
    @extend_schema(responses={200: CampaignSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(CampaignSerializer(_campaign(request, pk)).data)

    @extend_schema(request=CampaignWriteSerializer, responses={200: CampaignSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        campaign = _campaign(request, pk)
        data = _validated(CampaignWriteSerializer, request, partial=True)
        segment = data.pop("segment", ...)
        campaign = services.campaign_update(org=_org(request), campaign=campaign, segment=segment, **data)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.campaign_delete(org=_org(request), campaign=_campaign(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignSendView(ActionView):
    """Send now, or at ``at``."""

    @extend_schema(request=ScheduleSerializer, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(ScheduleSerializer, request)
        campaign = services.campaign_schedule(
            org=_org(request), campaign=_campaign(request, pk), at=data.get("at")
        )
        return Response(CampaignSerializer(campaign).data)


class CampaignPauseView(ActionView):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_pause(org=_org(request), campaign=_campaign(request, pk))
        return Response(CampaignSerializer(campaign).data)


class CampaignResumeView(ActionView):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_resume(org=_org(request), campaign=_campaign(request, pk))
        return Response(CampaignSerializer(campaign).data)


class CampaignCancelView(ActionView):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_cancel(org=_org(request), campaign=_campaign(request, pk))
        return Response(CampaignSerializer(campaign).data)


class PreviewInputSerializer(StrictSerializer):
    contact = OrganizationPrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, help_text="Defaults to the segment's first contact."
    )


class RenderedSerializer(serializers.Serializer):
    to = serializers.CharField()
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField()


class CampaignPreviewView(ActionView):
    """Render the campaign for one contact, as it would be sent."""

    permission_classes = (ReadViewerWriteViewer,)  # rendering writes nothing

    @extend_schema(request=PreviewInputSerializer, responses={200: RenderedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = _campaign(request, pk)
        data = _validated(PreviewInputSerializer, request)
        contact = data.get("contact")
        if contact is None and campaign.segment is not None:
            contact = selectors.segment_contacts(org=_org(request), filters=campaign.segment.filters).first()
        if contact is None:
            raise Invalid(
                "Choose a contact to preview with.", field_errors={"contact": ["This field is required."]}
            )
        rendered = services.campaign_preview(org=_org(request), campaign=campaign, contact=contact)
        return Response(RenderedSerializer(rendered).data)


class CampaignStatsView(ActionView):
    @extend_schema(responses={200: StatsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        stats = selectors.campaign_stats(org=_org(request), campaign=_campaign(request, pk))
        return Response(StatsSerializer(stats).data)


class RecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recipient
        fields = (
            "id",
            "contact",
            "email",
            "state",
            "attempts",
            "last_error",
            "sent_at",
            "opened_at",
            "open_count",
            "clicked_at",
            "click_count",
            "unsubscribed_at",
        )
        read_only_fields = fields


class RecipientListView(generics.ListAPIView):
    serializer_class = RecipientSerializer
    queryset = Recipient.objects.none()
    ordering_fields = ("id",)
    ordering = "id"

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=RecipientState.values)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Recipient]:
        campaign = get_object_or_404(_campaigns(self.request), pk=self.kwargs["pk"])
        return selectors.recipient_list(
            org=_org(self.request),
            campaign=campaign,
            state=query_choice(self.request, "state", RecipientState.values),
        )


# --- suppression list -------------------------------------------------------------------------


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ("id", "email", "reason", "campaign", "detail", "created_at")
        read_only_fields = fields


class SuppressionCreateSerializer(StrictSerializer):
    email = StrictEmailField()


class SuppressionListView(generics.ListAPIView):
    serializer_class = SuppressionSerializer
    queryset = Suppression.objects.none()
    ordering_fields = ("created_at",)
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Suppression]:
        return selectors.suppression_list(org=_org(self.request))

    @extend_schema(request=SuppressionCreateSerializer, responses={201: SuppressionSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(SuppressionCreateSerializer, request)
        suppression = services.suppression_add(org=_org(request), email=data["email"])
        return Response(SuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED)


class SuppressionDetailView(APIView):
    permission_classes = (ReadViewerWriteAdmin,)

    @extend_schema(
        responses={204: None},
        description=(
            "Lift a suppression: later campaigns may email the address again (for an unsubscribe, "
            "that re-subscribes the person). Admins only; recorded on the timeline of the "
            "suppression and of each contact with the address."
        ),
    )
    def delete(self, request: Request, pk: int) -> Response:
        suppression = get_object_or_404(Suppression.objects.filter(organization=_org(request)), pk=pk)
        services.suppression_remove(org=_org(request), actor=actor(request), suppression=suppression)
        return Response(status=status.HTTP_204_NO_CONTENT)
