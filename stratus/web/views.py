"""Browser pages: thin views over the accounts and CRM services and selectors."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import Throttled
from rest_framework.request import Request

from stratus.accounts.models import Role
from stratus.api.throttling import AnonymousRateThrottle
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.models import ActivityKind
from stratus.lockout import services as lockout
from stratus.platform.errors import ApplicationError, Forbidden, Invalid, NotFound, status_of
from stratus.web.board.forms import RescheduleForm
from stratus.web.context import SESSION_ORGANIZATION, SignedInRequest, current_membership, memberships
from stratus.web.forms import LoginForm


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:home")


def _shell(
    request: SignedInRequest,
    template: str,
    context: dict[str, Any],
    *,
    section: str,
    status: int = 200,
) -> HttpResponse:
    mine = memberships(request)
    membership = current_membership(request)
    return render(
        request,
        template,
        {
            "membership": membership,
            "organization": membership.organization,
            "memberships": mine,
            "section": section,
            "can_edit": membership.has_role(Role.MEMBER),
            **context,
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method != "POST":
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        # The same limits as the API's log-in: per client address, then per account and address.
        throttle = AnonymousRateThrottle()
        try:
            if not throttle.allow_request(cast(Request, request), None):
                raise Throttled(wait=throttle.wait())
            user = lockout.authenticate_with_lockout(
                request=request, email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except Throttled as limited:
            seconds = max(1, math.ceil(getattr(limited, "wait", None) or 1))
            error = ngettext(
                "Too many sign-in attempts. Try again in %(seconds)d second.",
                "Too many sign-in attempts. Try again in %(seconds)d seconds.",
                seconds,
            ) % {"seconds": seconds}
            status = 429
        else:
            if user is not None:
                login(request, user)
                return HttpResponseRedirect(next_url)
            # The same words whether or not the e-mail has an account.
            error = _("Wrong e-mail or password.")
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "web/login.html", {"form": form, "error": error, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@require_POST
@login_required
def switch_organization(request: SignedInRequest) -> HttpResponse:
    wanted = request.POST.get("organization", "")
    for membership in memberships(request):
        if str(membership.organization_id) == wanted:
            request.session[SESSION_ORGANIZATION] = membership.organization_id
            break
    return redirect("web:home")


def home(request: HttpRequest) -> HttpResponse:
    """`/`: the sign-in page for visitors, the dashboard (with the user's open tasks) otherwise."""
    if not request.user.is_authenticated:
        return login_view(request)
    from stratus.web.dashboard.views import dashboard_page  # the dashboard builds on this module

    return dashboard_page(cast(SignedInRequest, request))


@dataclass(frozen=True)
class Refusal:
    """A refused reschedule: the task, the server's message and what the user typed."""

    task: int
    message: str
    typed: str


def _my_tasks(request: SignedInRequest, refused: Refusal | None = None) -> dict[str, Any]:
    """The signed-in user's open tasks in sections: overdue, today, upcoming, no due date.

    ``refused`` puts a refused reschedule's message and typed value beside that task's field.
    """
    org = current_membership(request).organization
    tasks = crm_selectors.activity_list(
        org=org,
        filters={"assignee": [request.user.pk], "done": "false", "kind": [ActivityKind.TASK]},
        ordering="due_at",
    ).select_related("contact", "company", "deal")[:200]
    now = timezone.localtime()
    start_of_tomorrow = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    groups: dict[str, list[Any]] = {"overdue": [], "today": [], "upcoming": [], "unscheduled": []}
    for task in tasks:
        if task.due_at is None:
            groups["unscheduled"].append(task)
        elif task.due_at < now:
            groups["overdue"].append(task)
        elif task.due_at < start_of_tomorrow:
            groups["today"].append(task)
        else:
            groups["upcoming"].append(task)
    return {"groups": groups, "task_count": sum(len(g) for g in groups.values()), "refused": refused}


@require_POST
@login_required
def task_done(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = current_membership(request)
    error = None
    status = 200
    try:
        if not membership.has_role(Role.MEMBER):
            raise Forbidden(_("Viewers cannot change tasks."))
        crm_services.activity_update(org=membership.organization, actor=request.user, activity=pk, done=True)
    except ApplicationError as refused:
        _refuse_page(request, refused)
        error, status = str(refused), status_of(refused)
    if request.htmx:
        response = _shell(request, "web/_tasks.html", {**_my_tasks(request), "error": error}, section="home")
        response.status_code = status
        return response
    return redirect("web:home")


def _refuse_page(request: SignedInRequest, refused: ApplicationError) -> None:
    """Without htmx, another organization's task is the app's 404 page and a viewer's write its
    403 page (with htmx the refusal is shown in the tasks fragment)."""
    if request.htmx:
        return
    if isinstance(refused, NotFound):
        raise Http404(refused.message)
    if isinstance(refused, Forbidden):
        raise PermissionDenied(refused.message)


@require_POST
@login_required
def task_reschedule(request: SignedInRequest, pk: int) -> HttpResponse:
    """A new due time for one of my tasks, through the activity service; a refused value is shown
    beside the task's field (with what was typed) and nothing is saved."""
    membership = current_membership(request)
    form = RescheduleForm(request.POST)
    refusal: Refusal | None = None
    status = 200
    try:
        if not membership.has_role(Role.MEMBER):
            raise Forbidden(_("Viewers cannot change tasks."))
        if not form.is_valid():
            messages = [str(message) for message in form.errors["due_at"]]
            raise Invalid(messages[0], field_errors={"due_at": messages})
        crm_services.activity_update(
            org=membership.organization, actor=request.user, activity=pk, due_at=form.cleaned_data["due_at"]
        )
    except ApplicationError as refused:
        if isinstance(refused, NotFound):
            _refuse_page(request, refused)
        message = (refused.field_errors.get("due_at") or [refused.message])[0]
        refusal = Refusal(task=pk, message=message, typed=request.POST.get("due_at", ""))
        status = status_of(refused)
    if not request.htmx and refusal is None:
        return redirect("web:home")
    template = "web/_tasks.html" if request.htmx else "web/home.html"
    response = _shell(request, template, _my_tasks(request, refusal), section="home")
    response.status_code = status
    return response
