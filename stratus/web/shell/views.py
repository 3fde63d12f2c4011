"""The app shell's own pages: profile, notifications, the palette's records, the tasks fragment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stratus.accounts import services as accounts_services
from stratus.accounts.models import Role
from stratus.crm import selectors as crm_selectors
from stratus.platform.errors import ApplicationError, NotFound
from stratus.reminders import selectors as reminder_selectors
from stratus.reminders import services as reminder_services
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.shell import destinations
from stratus.web.shell.forms import NameForm, PasswordForm, ReminderEmailsForm, SearchForm
from stratus.web.views import _my_tasks, _shell

SEARCH_RESULTS_PER_KIND = 5
NOTIFICATIONS_PER_PAGE = 50


def _refused(form: Any, error: ApplicationError) -> None:
    """A service's refusal shown beside the fields it names (or above the form)."""
    placed = False
    for field, field_messages in error.field_errors.items():
        if field in form.fields:
            for message in field_messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


# --- profile ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def profile(request: SignedInRequest) -> HttpResponse:
    user = request.user
    name_form = NameForm(initial={"full_name": user.full_name}, prefix="name")
    password_form = PasswordForm(prefix="password")
    reminders_form = ReminderEmailsForm(
        initial={"email_reminders": reminder_selectors.email_reminders_enabled(actor=user)},
        prefix="reminders",
    )
    status = 200
    if request.method == "POST":
        section = request.POST.get("section")
        try:
            if section == "name":
                name_form = NameForm(request.POST, prefix="name")
                if name_form.is_valid():
                    accounts_services.user_profile_update(
                        user=user, full_name=name_form.cleaned_data["full_name"]
                    )
                    messages.success(request, _("Your name was saved."))
                    return redirect("web:profile")
            elif section == "password":
                password_form = PasswordForm(request.POST, prefix="password")
                if password_form.is_valid():
                    accounts_services.user_password_change(
                        user=user,
                        current_password=password_form.cleaned_data["current_password"],
                        new_password=password_form.cleaned_data["new_password"],
                    )
                    update_session_auth_hash(request, user)
                    messages.success(request, _("Your password was changed."))
                    return redirect("web:profile")
            elif section == "reminders":
                reminders_form = ReminderEmailsForm(request.POST, prefix="reminders")
                if reminders_form.is_valid():
                    reminder_services.notification_preference_set(
                        actor=user, email_reminders=reminders_form.cleaned_data["email_reminders"]
                    )
                    messages.success(request, _("Your reminder e-mail setting was saved."))
                    return redirect("web:profile")
        except ApplicationError as error:
            form = {"name": name_form, "password": password_form}.get(section or "", reminders_form)
            _refused(form, error)
        status = 400
    return _shell(
        request,
        "web/shell/profile.html",
        {"name_form": name_form, "password_form": password_form, "reminders_form": reminders_form},
        section="profile",
        status=status,
    )


# --- notifications ----------------------------------------------------------------------------


def _before(value: str | None) -> int | None:
    try:
        before = int(value or "")
    except ValueError:
        return None
    return before if 0 < before < 2**63 else None


@require_GET
@login_required
def notifications(request: SignedInRequest) -> HttpResponse:
    page = reminder_selectors.notification_page(
        org=current_membership(request).organization,
        actor=request.user,
        before=_before(request.GET.get("before")),
        limit=NOTIFICATIONS_PER_PAGE + 1,
    )
    rows = [
        (
            n,
            destinations.record_path(n.target_type, n.target_id)
            if n.target_type == "deal" and n.target_id
            else "",
        )
        for n in page[:NOTIFICATIONS_PER_PAGE]
    ]
    older = page[NOTIFICATIONS_PER_PAGE - 1].pk if len(page) > NOTIFICATIONS_PER_PAGE else None
    return _shell(
        request, "web/shell/notifications.html", {"rows": rows, "older": older}, section="notifications"
    )


@require_POST
@login_required
def notification_read(request: SignedInRequest, pk: int) -> HttpResponse:
    try:
        reminder_services.notification_mark_read(
            org=current_membership(request).organization, actor=request.user, notification_id=pk
        )
    except NotFound:
        raise Http404 from None  # another person's or organization's notification
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("web:notifications")


@require_POST
@login_required
def notifications_read_all(request: SignedInRequest) -> HttpResponse:
    reminder_services.notifications_mark_all_read(
        org=current_membership(request).organization, actor=request.user
    )
    return redirect("web:notifications")


@require_GET
@login_required
def notifications_badge(request: SignedInRequest) -> HttpResponse:
    """The sidebar's unread count, re-fetched when a notification arrives live."""
    return render(
        request,
        "web/shell/_badge.html",
        {
            "unread": reminder_selectors.notification_unread_count(
                org=current_membership(request).organization, actor=request.user
            )
        },
    )


# --- the palette's records ---------------------------------------------------------------------


def palette_records(request: SignedInRequest) -> HttpResponse:
    """The palette's options for ``q``: contacts, companies and deals by name, pages and actions
    (``/search`` answers the palette's requests with it: stratus.web.search.views)."""
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    membership = current_membership(request)
    org = membership.organization
    groups: list[tuple[str, list[dict[str, str]]]] = []
    if query:
        limit = SEARCH_RESULTS_PER_KIND
        contacts = crm_selectors.contact_search(org=org, query=query, limit=limit)
        companies = crm_selectors.company_search(org=org, query=query, limit=limit)
        deals = crm_selectors.deal_search(org=org, query=query, limit=limit)
        groups = [
            (
                _("Contacts"),
                [
                    {
                        "label": f"{c.first_name} {c.last_name}".strip() or c.email,
                        "detail": c.email,
                        "href": destinations.record_path("contact", c.pk),
                    }
                    for c in contacts
                ],
            ),
            (
                _("Companies"),
                [
                    {"label": c.name, "detail": c.domain, "href": destinations.record_path("company", c.pk)}
                    for c in companies
                ],
            ),
            (
                _("Deals"),
                [
                    {"label": d.title, "detail": d.stage.name, "href": destinations.record_path("deal", d.pk)}
                    for d in deals
                ],
            ),
        ]
    context = {
        "query": query,
        "form": form,
        "groups": [(name, rows) for name, rows in groups if rows],
        "destinations": destinations.matching(query, can_create=membership.has_role(Role.MEMBER)),
        "all_href": "/search?" + urlencode({"q": query, "mode": "words"}) if query else "",
    }
    return render(request, "web/shell/_search_results.html", context)


# --- the home page's task list, re-fetched live ---------------------------------------------


@require_GET
@login_required
def tasks(request: SignedInRequest) -> HttpResponse:
    return _shell(request, "web/_tasks.html", _my_tasks(request), section="home")
