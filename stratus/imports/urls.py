from django.urls import path

from stratus.imports import api

urlpatterns = [
    path("imports", api.ImportListView.as_view(), name="api-import-list"),
    path("imports/analyse", api.ImportAnalyseView.as_view(), name="api-import-analyse"),
    path("imports/<int:pk>", api.ImportDetailView.as_view(), name="api-import-detail"),
    path("imports/<int:pk>/cancel", api.ImportCancelView.as_view(), name="api-import-cancel"),
    path("imports/<int:pk>/errors.csv", api.ImportErrorReportView.as_view(), name="api-import-errors"),
    path("exports/contacts.csv", api.ExportView.as_view(kind="contacts"), name="api-export-contacts"),
    path("exports/companies.csv", api.ExportView.as_view(kind="companies"), name="api-export-companies"),
    path("exports/deals.csv", api.ExportView.as_view(kind="deals"), name="api-export-deals"),
]
