"""Links in campaign emails, mounted at ``/c/``."""

from django.urls import path

from stratus.campaigns import views

app_name = "campaign_links"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("o/<str:token>/", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
]
