from django.urls import path

from stratus.accounts import api

urlpatterns = [
    path("signup", api.SignupView.as_view(), name="api-signup"),
    path("auth/login", api.LoginView.as_view(), name="api-login"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("organization", api.OrganizationView.as_view(), name="api-organization"),
    path("members", api.MemberListView.as_view(), name="api-member-list"),
    path("members/<int:pk>", api.MemberDetailView.as_view(), name="api-member-detail"),
    path("tokens", api.TokenListView.as_view(), name="api-token-list"),
    path("tokens/<uuid:pk>", api.TokenDetailView.as_view(), name="api-token-detail"),
]
