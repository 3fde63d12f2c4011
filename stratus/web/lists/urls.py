from django.urls import path

from stratus.web.lists import views

# The list pages sit at the record paths (/contacts, ...); their fragments and actions under /lists/.
urlpatterns = [
    path("contacts", views.list_page, {"kind": "contacts"}, name="list-contacts"),
    path("companies", views.list_page, {"kind": "companies"}, name="list-companies"),
    path("deals", views.list_page, {"kind": "deals"}, name="list-deals"),
    path("activities", views.list_page, {"kind": "activities"}, name="list-activities"),
    path("lists/bulk/<int:pk>", views.bulk_progress, name="list-bulk-progress"),
    path("lists/export/<int:pk>", views.export_progress, name="list-export-progress"),
    path("lists/export/<int:pk>/download", views.export_download, name="list-export-download"),
    path("lists/<str:kind>/rows", views.rows, name="list-rows"),
    path("lists/<str:kind>/export", views.export_start, name="list-export"),
    path("lists/<str:kind>/bulk", views.bulk, name="list-bulk"),
    path("lists/<str:kind>/views", views.view_save, name="list-view-save"),
    path("lists/<str:kind>/views/default", views.view_default, name="list-view-default"),
    path("lists/<str:kind>/views/<int:pk>/delete", views.view_delete, name="list-view-delete"),
    path("lists/<str:kind>/<int:pk>/row", views.row, name="list-row"),
    path("lists/<str:kind>/<int:pk>/cells/<str:column>", views.cell, name="list-cell"),
    path("lists/<str:kind>/<int:pk>/cells/<str:column>/edit", views.cell_edit, name="list-cell-edit"),
]
