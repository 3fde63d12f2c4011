from django.urls import path

from stratus.web.dashboard import views

urlpatterns = [
    path("dashboard/csv/<str:report>", views.report_csv, name="dashboard-csv"),
    path("dashboards/new", views.dashboard_edit, name="dashboard-new"),
    path("dashboards/<int:pk>/edit", views.dashboard_edit, name="dashboard-edit"),
    path("dashboards/<int:pk>/delete", views.dashboard_delete, name="dashboard-delete"),
]
