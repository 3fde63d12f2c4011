from django.urls import path

from stratus.realtime import api

urlpatterns = [
    path("realtime/tickets", api.TicketCreateView.as_view(), name="api-realtime-tickets"),
]
