from django.urls import path

from stratus.campaigns import api

urlpatterns = [
    path("segments", api.SegmentListView.as_view(), name="api-segment-list"),
    path("segments/preview", api.SegmentPreviewView.as_view(), name="api-segment-preview"),
    path("segments/<int:pk>", api.SegmentDetailView.as_view(), name="api-segment-detail"),
    path("segments/<int:pk>/preview", api.SegmentMembersPreviewView.as_view(), name="api-segment-members"),
    path("campaigns", api.CampaignListView.as_view(), name="api-campaign-list"),
    path("campaigns/<int:pk>", api.CampaignDetailView.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:pk>/send", api.CampaignSendView.as_view(), name="api-campaign-send"),
    path("campaigns/<int:pk>/pause", api.CampaignPauseView.as_view(), name="api-campaign-pause"),
    path("campaigns/<int:pk>/resume", api.CampaignResumeView.as_view(), name="api-campaign-resume"),
    path("campaigns/<int:pk>/cancel", api.CampaignCancelView.as_view(), name="api-campaign-cancel"),
    path("campaigns/<int:pk>/preview", api.CampaignPreviewView.as_view(), name="api-campaign-preview"),
    path("campaigns/<int:pk>/stats", api.CampaignStatsView.as_view(), name="api-campaign-stats"),
    path("campaigns/<int:pk>/recipients", api.RecipientListView.as_view(), name="api-campaign-recipients"),
    path("suppressions", api.SuppressionListView.as_view(), name="api-suppression-list"),
    path("suppressions/<int:pk>", api.SuppressionDetailView.as_view(), name="api-suppression-detail"),
]
