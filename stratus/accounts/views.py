"""The pages emailed links lead to: accepting an invitation, confirming a sign-up.

Server-rendered in the browser app's layout, CSRF-protected forms. Nothing changes on GET
(mail scanners follow links): joining, signing in, signing up and confirming are POSTs. The
link's token is the credential for what the page shows; the actions call the same services as
the API (``/api/v1/invitations/...``, ``/api/v1/signup/confirm``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import Throttled

from stratus.accounts import selectors, services
from stratus.accounts.errors import AccountCode
from stratus.accounts.models import Invitation, SignupRequest, User
from stratus.api.throttling import AnonymousRateThrottle
from stratus.lockout import services as lockout
from stratus.platform.errors import ApplicationError, Gone, status_of

TITLES: dict[str, str] = {
    AccountCode.INVITATION_INVALID: "This invitation link is not valid",
    AccountCode.INVITATION_EXPIRED: "This invitation has expired",
    AccountCode.INVITATION_REVOKED: "This invitation was revoked",
    AccountCode.INVITATION_USED: "This invitation was used already",
    AccountCode.SIGNUP_INVALID: "This confirmation link is not valid",
    AccountCode.SIGNUP_EXPIRED: "This confirmation link has expired",
    AccountCode.SIGNUP_USED: "This sign-up was confirmed already",
}


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, f"accounts/{template}.html", context, status=status)


def _refused(request: HttpRequest, template: str, error: ApplicationError) -> HttpResponse:
    return _page(
        request,
        template,
        status=status_of(error),
        title=TITLES.get(error.code, "This link cannot be used"),
        error=error.message,
        state="unusable",
    )


def _throttled(request: HttpRequest) -> bool:
    return not AnonymousRateThrottle().allow_request(request, None)  # type: ignore[arg-type]


def _invitation_context(request: HttpRequest, invitation: Invitation) -> dict[str, Any]:
    inviter = invitation.invited_by
    user = request.user
    if user.is_authenticated:
        matches = services.normalize_email(user.email) == invitation.email
        state = "accept" if matches else "wrong_user"
    else:
        exists = selectors.account_exists(email=invitation.email)
        state = "signin" if exists else "signup"
    return {
        "title": f"Join {invitation.organization.name}",
        "state": state,
        "organization": invitation.organization.name,
        "email": invitation.email,
        "role": invitation.role,
        "inviter": (inviter.full_name or inviter.email) if inviter else "A member",
        "expires_at": invitation.expires_at,
        "signed_in_as": getattr(user, "email", ""),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_from_token(token)
        services.invitation_usable(invitation)
    except ApplicationError as error:
        return _refused(request, "invitation", error)
    context = _invitation_context(request, invitation)
    if request.method == "GET":
        return _page(request, "invitation", **context)
    action = request.POST.get("action", "")
    if action == "signout":
        logout(request)
        return HttpResponseRedirect(request.path)
    if action not in ("accept", "signin", "signup") or action != context["state"]:
        return _page(
            request, "invitation", status=400, error="This form is out of date: try again.", **context
        )
    if action != "accept" and _throttled(request):
        return _page(request, "invitation", status=429, error="Too many attempts: wait a minute.", **context)
    password = request.POST.get("password", "")
    try:
        if action == "signin":
            try:
                user = lockout.authenticate_with_lockout(
                    request=request, email=invitation.email, password=password
                )
            except Throttled:
                return _page(
                    request, "invitation", status=429, error="Too many attempts: wait a minute.", **context
                )
            if user is None:
                return _page(request, "invitation", status=400, error="Wrong password.", **context)
            membership = services.invitation_accept(token=token, actor=user)
            login(request, user)
        elif action == "signup":
            full_name = request.POST.get("full_name", "").strip()[:200]
            membership = services.invitation_signup(token=token, password=password, full_name=full_name)
            login(request, membership.user)
        else:
            assert isinstance(request.user, User)  # the "accept" state is for a signed-in user
            membership = services.invitation_accept(token=token, actor=request.user)
    except ApplicationError as error:
        return _page(
            request,
            "invitation",
            status=status_of(error),
            error=error.message,
            password_errors=error.field_errors.get("password", []),
            **context,
        )
    return _page(
        request,
        "invitation",
        title=f"Welcome to {invitation.organization.name}",
        state="joined",
        organization=invitation.organization.name,
        role=membership.role,
        email=invitation.email,
    )


def _signup_context(signup: SignupRequest) -> dict[str, Any]:
    return {"email": signup.email, "organization": signup.organization_name}


@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        signup = services.signup_request_from_token(token)
        if signup.confirmed_at is not None:
            raise Gone("Sign in with your email and password.", code=AccountCode.SIGNUP_USED)
        if signup.expires_at <= timezone.now():
            raise Gone("Sign up again to get a new link.", code=AccountCode.SIGNUP_EXPIRED)
    except ApplicationError as error:
        return _refused(request, "signup_confirm", error)
    if request.method == "GET":
        return _page(
            request,
            "signup_confirm",
            title="Confirm your account",
            state="confirm",
            **_signup_context(signup),
        )
    if _throttled(request):
        return _page(
            request,
            "signup_confirm",
            status=429,
            title="Confirm your account",
            state="confirm",
            error="Too many attempts: wait a minute.",
            **_signup_context(signup),
        )
    try:
        result = services.signup_confirm(token=token)
    except ApplicationError as error:
        return _refused(request, "signup_confirm", error)
    login(request, result.user)
    return _page(
        request,
        "signup_confirm",
        title="Your account is ready",
        state="created",
        email=result.user.email,
        organization=result.organization.name,
    )
