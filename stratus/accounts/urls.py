from django.urls import path

from stratus.accounts import api

urlpatterns = [
    path("signup", api.SignupView.as_view(), name="api-signup"),
    path("signup/confirm", api.SignupConfirmView.as_view(), name="api-signup-confirm"),
    path("auth/login", api.LoginView.as_view(), name="api-login"),
    path("auth/logout", api.LogoutView.as_view(), name="api-logout"),
    path("me", api.MeView.as_view(), name="api-me"),
    path("organization", api.OrganizationView.as_view(), name="api-organization"),
    path("organization/leave", api.OrganizationLeaveView.as_view(), name="api-organization-leave"),
    path("members", api.MemberListView.as_view(), name="api-member-list"),
    path("members/<int:pk>", api.MemberDetailView.as_view(), name="api-member-detail"),
    path("invitations", api.InvitationListView.as_view(), name="api-invitation-list"),
    path("invitations/<int:pk>", api.InvitationDetailView.as_view(), name="api-invitation-detail"),
    path("invitations/<int:pk>/revoke", api.InvitationRevokeView.as_view(), name="api-invitation-revoke"),
    path("invitations/<int:pk>/resend", api.InvitationResendView.as_view(), name="api-invitation-resend"),
    path("invitations/inspect", api.InvitationInspectView.as_view(), name="api-invitation-inspect"),
    path("invitations/accept", api.InvitationAcceptView.as_view(), name="api-invitation-accept"),
    path("invitations/signup", api.InvitationSignupView.as_view(), name="api-invitation-signup"),
    path("tokens", api.TokenListView.as_view(), name="api-token-list"),
    path("tokens/<uuid:pk>", api.TokenDetailView.as_view(), name="api-token-detail"),
]
