from django.urls import URLPattern, path

from stratus.web.board import views

urlpatterns: list[URLPattern] = [
    path("pipeline", views.board, name="pipeline-default"),
    path("pipeline/<int:pk>", views.board, name="pipeline"),
    path("pipeline/<int:pk>/stages/<int:stage>/deals", views.column, name="pipeline-column"),
    path("pipeline/<int:pk>/live", views.live, name="pipeline-live"),
    path("pipeline/deals/<int:pk>/move", views.move, name="deal-move"),
]
