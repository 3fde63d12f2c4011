from django.urls import path

from stratus.platform import views

urlpatterns = [
    path("health/live", views.live, name="health-live"),
    path("health/ready", views.ready, name="health-ready"),
    path("health/", views.ready, name="health"),
    path("api/v1/health/", views.ready, name="api-health"),
]
