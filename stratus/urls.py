from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Stratus administration"
admin.site.site_title = "Stratus"

urlpatterns = [
    path("", include("stratus.platform.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/documents/", include("stratus.documents.urls")),
]
