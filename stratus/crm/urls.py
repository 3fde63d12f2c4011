from django.urls import path

from stratus.crm import api

urlpatterns = [
    path("companies", api.CompanyListView.as_view(), name="api-company-list"),
    path("companies/<int:pk>", api.CompanyDetailView.as_view(), name="api-company-detail"),
    path("companies/<int:pk>/timeline", api.CompanyTimelineView.as_view(), name="api-company-timeline"),
    path("contacts", api.ContactListView.as_view(), name="api-contact-list"),
    path("contacts/<int:pk>", api.ContactDetailView.as_view(), name="api-contact-detail"),
    path("contacts/<int:pk>/timeline", api.ContactTimelineView.as_view(), name="api-contact-timeline"),
    path("deals", api.DealListView.as_view(), name="api-deal-list"),
    path("deals/<int:pk>", api.DealDetailView.as_view(), name="api-deal-detail"),
    path("deals/<int:pk>/move", api.DealMoveView.as_view(), name="api-deal-move"),
    path("deals/<int:pk>/timeline", api.DealTimelineView.as_view(), name="api-deal-timeline"),
    path("activities", api.ActivityListView.as_view(), name="api-activity-list"),
    path("activities/<int:pk>", api.ActivityDetailView.as_view(), name="api-activity-detail"),
    path("activities/<int:pk>/timeline", api.ActivityTimelineView.as_view(), name="api-activity-timeline"),
    path("pipelines", api.PipelineListView.as_view(), name="api-pipeline-list"),
    path("pipelines/<int:pk>", api.PipelineDetailView.as_view(), name="api-pipeline-detail"),
    path("pipelines/<int:pk>/stages", api.PipelineStageCreateView.as_view(), name="api-pipeline-stages"),
    path("pipelines/<int:pk>/timeline", api.PipelineTimelineView.as_view(), name="api-pipeline-timeline"),
    path("stages/<int:pk>", api.StageDetailView.as_view(), name="api-stage-detail"),
    path("custom-fields", api.CustomFieldListView.as_view(), name="api-custom-field-list"),
    path("custom-fields/<int:pk>", api.CustomFieldDetailView.as_view(), name="api-custom-field-detail"),
    path("tags", api.TagListView.as_view(), name="api-tag-list"),
    path("timeline", api.TimelineListView.as_view(), name="api-timeline"),
]
