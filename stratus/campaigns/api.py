"""Campaigns over the API: segments (with preview), campaigns and their lifecycle, stats,
recipients, and the suppression list. Viewers read; members write."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.api.permissions import ReadViewerWriteAdmin, ReadViewerWriteViewer
from stratus.api.serializers import (
    OrganizationPrimaryKeyRelatedField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictSerializer,
)
from stratus.api.views import OrganizationAction, OrganizationEndpoint, OrganizationListEndpoint, query_choice
from stratus.campaigns import selectors, services
from stratus.campaigns.models import Campaign, CampaignState, Recipient, RecipientState, Segment, Suppression
from stratus.crm.models import Contact
from stratus.platform.unset import UNSET

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


def _preview(view: OrganizationEndpoint, filters: dict[str, Any]) -> Response:
    preview = selectors.segment_preview(org=view.org, filters=filters)
    return Response(
        {
            "count": preview.count,
            "with_email": preview.with_email,
            "suppressed": preview.suppressed,
            "sample": PreviewContactSerializer(preview.sample, many=True).data,
        }
    )


class SegmentListView(OrganizationListEndpoint, generics.ListAPIView):
    serializer_class = SegmentSerializer
    queryset = Segment.objects.none()
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Segment]:
        return selectors.segment_list(org=self.org)

    @extend_schema(request=SegmentWriteSerializer, responses={201: SegmentSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(SegmentWriteSerializer)
        segment = services.segment_create(
            org=self.org, actor=self.actor, name=data["name"], filters=data["filters"]
        )
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentPreviewView(OrganizationAction):
    """Count and sample the contacts some filters select, before saving them as a segment."""

    permission_classes = (ReadViewerWriteViewer,)  # a preview writes nothing

    @extend_schema(request=PreviewRequestSerializer, responses={200: PreviewSerializer})
    def post(self, request: Request) -> Response:
        return _preview(self, self.validated(PreviewRequestSerializer)["filters"])


class SegmentDetailView(OrganizationEndpoint):
    def _segment(self, pk: int) -> Segment:
        return selectors.segment_get(org=self.org, segment_id=pk)

    @extend_schema(responses={200: SegmentSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SegmentSerializer(self._segment(pk)).data)

    @extend_schema(request=SegmentWriteSerializer, responses={200: SegmentSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        segment = self._segment(pk)
        data = self.validated(SegmentWriteSerializer, partial=True)
        segment = services.segment_update(
            org=self.org, segment=segment, name=data.get("name", UNSET), filters=data.get("filters", UNSET)
        )
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.segment_delete(org=self.org, segment=self._segment(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentMembersPreviewView(OrganizationAction):
    @extend_schema(responses={200: PreviewSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return _preview(self, selectors.segment_get(org=self.org, segment_id=pk).filters)


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


# An endpoint on one campaign (``<pk>`` in the URL); no docstring: the schema would show it.
class CampaignEndpoint(OrganizationEndpoint):
    def campaign(self, pk: int) -> Campaign:
        return selectors.campaign_get(org=self.org, campaign_id=pk)


# One action on a campaign; serves only its own handlers.
class CampaignAction(CampaignEndpoint, OrganizationAction):
    pass


class CampaignListView(OrganizationListEndpoint, generics.ListAPIView):
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.none()
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=CampaignState.values)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Campaign]:
        state = query_choice(self.request, "state", CampaignState.values)
        return selectors.campaign_list(org=self.org, state=state)

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def post(self, request: Request) -> Response:
        campaign = services.campaign_create(
            org=self.org, actor=self.actor, **self.validated(CampaignWriteSerializer)
        )
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(CampaignEndpoint):
    @extend_schema(responses={200: CampaignSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(CampaignSerializer(self.campaign(pk)).data)

    @extend_schema(request=CampaignWriteSerializer, responses={200: CampaignSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        campaign = self.campaign(pk)
        data = self.validated(CampaignWriteSerializer, partial=True)
        campaign = services.campaign_update(org=self.org, campaign=campaign, **data)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.campaign_delete(org=self.org, campaign=self.campaign(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignSendView(CampaignAction):
    """Send now, or at ``at``."""

    @extend_schema(request=ScheduleSerializer, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(ScheduleSerializer)
        campaign = services.campaign_schedule(org=self.org, campaign=self.campaign(pk), at=data.get("at"))
        return Response(CampaignSerializer(campaign).data)


class CampaignPauseView(CampaignAction):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_pause(org=self.org, campaign=self.campaign(pk))
        return Response(CampaignSerializer(campaign).data)


class CampaignResumeView(CampaignAction):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_resume(org=self.org, campaign=self.campaign(pk))
        return Response(CampaignSerializer(campaign).data)


class CampaignCancelView(CampaignAction):
    @extend_schema(request=None, responses={200: CampaignSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = services.campaign_cancel(org=self.org, campaign=self.campaign(pk))
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


class CampaignPreviewView(CampaignAction):
    """Render the campaign for one contact, as it would be sent."""

    permission_classes = (ReadViewerWriteViewer,)  # rendering writes nothing

    @extend_schema(request=PreviewInputSerializer, responses={200: RenderedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        campaign = self.campaign(pk)
        data = self.validated(PreviewInputSerializer)
        rendered = services.campaign_preview(org=self.org, campaign=campaign, contact=data.get("contact"))
        return Response(RenderedSerializer(rendered).data)


class CampaignStatsView(CampaignAction):
    @extend_schema(responses={200: StatsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        stats = selectors.campaign_stats(org=self.org, campaign=self.campaign(pk))
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


class RecipientListView(OrganizationListEndpoint, generics.ListAPIView):
    serializer_class = RecipientSerializer
    queryset = Recipient.objects.none()
    orderings = {"id": ("id",)}
    ordering = "id"

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=RecipientState.values)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Recipient]:
        campaign = selectors.campaign_get(org=self.org, campaign_id=self.kwargs["pk"])
        return selectors.recipient_list(
            org=self.org,
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


class SuppressionListView(OrganizationListEndpoint, generics.ListAPIView):
    serializer_class = SuppressionSerializer
    queryset = Suppression.objects.none()
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Suppression]:
        return selectors.suppression_list(org=self.org)

    @extend_schema(request=SuppressionCreateSerializer, responses={201: SuppressionSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(SuppressionCreateSerializer)
        suppression = services.suppression_add(org=self.org, email=data["email"])
        return Response(SuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED)


class SuppressionDetailView(OrganizationEndpoint):
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
        suppression = selectors.suppression_get(org=self.org, suppression_id=pk)
        services.suppression_remove(org=self.org, actor=self.actor, suppression=suppression)
        return Response(status=status.HTTP_204_NO_CONTENT)
