from django.urls import path

from stratus.reports.api import VIEWS

urlpatterns = [
    path(f"reports/{name}", view.as_view(), name=f"api-report-{name}") for name, view in VIEWS.items()
]
