from django.urls import path

from stratus.knowledge.api import SearchView

urlpatterns = [
    path("search", SearchView.as_view(), name="api-search"),
]
