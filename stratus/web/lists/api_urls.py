from django.urls import path

from stratus.web.lists import api

urlpatterns = [
    path("export-jobs", api.ExportJobListView.as_view(), name="api-export-job-list"),
    path("export-jobs/<int:pk>", api.ExportJobDetailView.as_view(), name="api-export-job-detail"),
    path(
        "export-jobs/<int:pk>/download", api.ExportJobDownloadView.as_view(), name="api-export-job-download"
    ),
]
