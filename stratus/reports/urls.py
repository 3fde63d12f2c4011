from django.urls import path

from stratus.reports.api import VIEWS, ExchangeRateDetailView, ExchangeRateListView

urlpatterns = [
    *(path(f"reports/{name}", view.as_view(), name=f"api-report-{name}") for name, view in VIEWS.items()),
    path("exchange-rates", ExchangeRateListView.as_view(), name="api-exchange-rate-list"),
    path("exchange-rates/<int:pk>", ExchangeRateDetailView.as_view(), name="api-exchange-rate-detail"),
]
