from django.urls import path

from stratus.web.campaigns import views

urlpatterns = [
    path("campaigns", views.campaign_list, name="campaign-list"),
    path("campaigns/new", views.campaign_new, name="campaign-new"),
    path("campaigns/audience", views.audience_count, name="campaign-audience"),
    path("campaigns/<int:pk>", views.campaign_page, name="campaign"),
    path("campaigns/<int:pk>/edit", views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/progress", views.campaign_progress, name="campaign-progress"),
    path("campaigns/<int:pk>/recipients", views.campaign_recipients, name="campaign-recipients"),
    path("campaigns/<int:pk>/preview", views.campaign_preview, name="campaign-preview"),
    path("campaigns/<int:pk>/preview.html", views.campaign_preview_html, name="campaign-preview-html"),
    path("campaigns/<int:pk>/test-send", views.campaign_test_send, name="campaign-test-send"),
    path("campaigns/<int:pk>/send", views.campaign_send, name="campaign-send"),
    path("campaigns/<int:pk>/<str:action>", views.campaign_action, name="campaign-action"),
]
