"""Pages reached from emailed links, mounted at the site root."""

from django.urls import path

from stratus.accounts import views

urlpatterns = [
    path("invitations/<str:token>", views.invitation_page, name="invitation-page"),
    path("signup/confirm/<str:token>", views.signup_confirm_page, name="signup-confirm-page"),
]
