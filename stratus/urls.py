from django.contrib import admin
from django.urls import include, path

from stratus.lockout.forms import LockoutAdminAuthenticationForm

admin.site.site_header = "Stratus administration"
admin.site.site_title = "Stratus"
admin.site.login_form = LockoutAdminAuthenticationForm

urlpatterns = [
    path("", include("stratus.platform.urls")),
    path("admin/", admin.site.urls),
    # --- API; each app adds its `api/v1/` include below ---
    path("api/", include("stratus.api.urls")),
    path("api/v1/", include("stratus.accounts.urls")),
    path("api/v1/", include("stratus.crm.urls")),
    path("api/v1/documents/", include("stratus.documents.urls")),
    # --- Background work ---
    path("api/v1/", include("stratus.reminders.urls")),
    path("api/v1/", include("stratus.campaigns.urls")),
    path("api/v1/", include("stratus.imports.urls")),
    path("api/v1/", include("stratus.reports.urls")),
    path("api/v1/", include("stratus.knowledge.urls")),
    path("api/v1/", include("stratus.web.lists.api_urls")),
    path("c/", include("stratus.campaigns.public_urls")),
    path("", include("stratus.accounts.web_urls")),
    path("api/v1/", include("stratus.realtime.urls")),
    # --- Browser app ---
    path("", include("stratus.web.urls")),
]

# API paths answer errors with problem details (JSON); other paths keep Django's pages.
handler400 = "stratus.api.errors.bad_request"
handler403 = "stratus.api.errors.permission_denied"
handler404 = "stratus.api.errors.page_not_found"
handler500 = "stratus.api.errors.server_error"
