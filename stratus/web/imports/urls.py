from django.urls import path

from stratus.web.imports import views

urlpatterns = [
    path("imports", views.imports_page, name="imports"),
    path("imports/new", views.import_new, name="import-new"),
    path("imports/new/map", views.import_map, name="import-map"),
    path("imports/uploads", views.upload_start, name="import-upload-start"),
    path("imports/uploads/<str:token>", views.local_upload, name="import-local-upload"),
    path("imports/running", views.running, name="imports-running"),
    path("imports/<int:pk>", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/cancel", views.import_cancel, name="import-cancel"),
    path("imports/<int:pk>/errors.csv", views.import_errors_csv, name="import-errors"),
]
