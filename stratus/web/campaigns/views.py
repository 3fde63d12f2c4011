"""Campaign pages: the list with each campaign's numbers, the compose form (content and
audience, with a live count), the campaign's page (preview, test send, send or schedule, pause,
resume, cancel, live progress, the report and its recipients).

Thin views over the campaign services and selectors the API calls (stratus/campaigns/api.py):
the same roles (viewers read and preview; members write and send), the same refusals (a state
that does not allow an action is refused by the service, with its message), and the numbers
of the campaigns report (stratus/reports) so the page and the report's CSV agree.
"""

from __future__ import annotations

from typing import Any, cast

from csp.constants import NONE, SELF
from csp.decorators import csp
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stratus.accounts.models import Membership, Role
from stratus.campaigns import selectors, services, templating
from stratus.campaigns.models import Campaign, CampaignState, RecipientState
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Contact
from stratus.platform.errors import ApplicationError, NotFound, Unavailable, Unprocessable, status_of
from stratus.reports import engines
from stratus.reports.contracts import CampaignRow, ReportFilters
from stratus.web.campaigns.forms import (
    AUDIENCE_NEW,
    AUDIENCE_SAVED,
    RECIPIENT_STATES,
    CampaignForm,
    ScheduleForm,
)
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.lists.rows import Lookups
from stratus.web.lists.specs import SPECS
from stratus.web.lists.state import filter_fields, filters_of
from stratus.web.views import _shell

PAGE_SIZE = 50
# The segment builder's inputs carry this prefix: the contact filters' names ("email", "owner")
# would otherwise meet the campaign's own fields in one form.
FILTER_PREFIX = "seg-"
UNFINISHED = (CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)
ACTIONS = {
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}


# --- who may do what ------------------------------------------------------------------------------


def _membership(request: SignedInRequest) -> Membership:
    return current_membership(request)


def _writer(request: SignedInRequest) -> Membership:
    """Members and above write and send campaigns, as through the API; viewers only read."""
    membership = current_membership(request)
    if not membership.has_role(Role.MEMBER):
        raise PermissionDenied(_("Viewers cannot change campaigns."))
    return membership


def _campaign(membership: Membership, pk: int) -> Campaign:
    try:
        return selectors.campaign_get(org=membership.organization, campaign_id=pk)
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _figures(membership: Membership) -> dict[int, CampaignRow] | None:
    """The campaigns report's row of each campaign of the organization (a few aggregate queries);
    ``None`` when the reports' store cannot answer now (the list shows a dash, not zeros)."""
    filters = ReportFilters(organization_id=membership.organization_id, as_of=timezone.now())
    try:
        report = engines.run("campaigns", filters)
    except (Unavailable, Unprocessable):  # the analytics store is down, or over a limit
        return None
    return {row.campaign_id: row for row in report.campaigns}


def _page_number(query: QueryDict) -> int:
    try:
        return max(1, int(query.get("page", "1")))
    except ValueError:
        return 1


# --- the list -------------------------------------------------------------------------------------


@require_GET
@login_required
def campaign_list(request: SignedInRequest) -> HttpResponse:
    membership = _membership(request)
    page = _page_number(request.GET)
    campaigns = list(
        selectors.campaign_list(org=membership.organization)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1]
    )
    more = len(campaigns) > PAGE_SIZE
    figures = _figures(membership) if campaigns else {}
    rows = [(campaign, (figures or {}).get(campaign.pk)) for campaign in campaigns[:PAGE_SIZE]]
    return _shell(
        request,
        "web/campaigns/list.html",
        {
            "rows": rows,
            "unavailable": figures is None,
            "page": page,
            "next_page": page + 1 if more else None,
            "previous_page": page - 1 if page > 1 else None,
            "csv_url": reverse("api-report-campaigns") + "?format=csv",
        },
        section="campaigns",
    )


# --- the audience: a saved segment or filters, with its live count ---------------------------------


def _filter_values(query: QueryDict) -> QueryDict:
    values = QueryDict(mutable=True)
    for name, sent in query.lists():
        if name.startswith(FILTER_PREFIX):
            values.setlist(name.removeprefix(FILTER_PREFIX), sent)
    return values


def _filter_fields(
    membership: Membership, values: QueryDict, errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The contact list's filter inputs (stratus/web/lists), named with the builder's prefix."""
    spec = SPECS["contacts"]
    search = {"name": "q", "label": _("Search"), "input": "text", "choices": (), "more": False}
    search.update(value=values.get("q", ""), errors=errors.get("q", []))
    definitions = crm_selectors.custom_field_list(org=membership.organization, entity=spec.entity)
    fields = [search, *filter_fields(spec, definitions, values, errors)]
    for field in fields:
        field["name"] = FILTER_PREFIX + field["name"]
    return fields


def _audience(membership: Membership, query: QueryDict) -> dict[str, Any]:
    """What the audience's count shows for the form's current choice."""
    org = membership.organization
    if query.get("audience", AUDIENCE_SAVED) == AUDIENCE_NEW:
        filters = filters_of(_filter_values(query))
    else:
        try:
            segment_id = int(query.get("segment", ""))
        except ValueError:
            return {"preview": None, "error": ""}
        try:
            filters = selectors.segment_get(org=org, segment_id=segment_id).filters
        except NotFound:
            return {"preview": None, "error": _("Unknown segment.")}
    try:
        preview = selectors.segment_preview(org=org, filters=filters, sample_size=0)
    except ApplicationError as refused:
        messages = [f"{name}: {m}" for name, ms in refused.field_errors.items() for m in ms]
        return {"preview": None, "error": " ".join(messages) or refused.message}
    return {"preview": preview, "recipients": preview.with_email - preview.suppressed, "error": ""}


@require_GET
@login_required
def audience_count(request: SignedInRequest) -> HttpResponse:
    """The live count of the audience the compose form describes (htmx, as its inputs change)."""
    return render(request, "web/campaigns/_audience_count.html", _audience(_membership(request), request.GET))


# --- compose: create and edit a draft --------------------------------------------------------------


def _merge_fields(membership: Membership) -> list[tuple[str, str]]:
    labels = {
        "contact.first_name": _("First name"),
        "contact.last_name": _("Last name"),
        "contact.full_name": _("Full name"),
        "contact.email": _("E-mail"),
        "contact.phone": _("Phone"),
        "contact.job_title": _("Job title"),
        "company.name": _("Company name"),
        "company.domain": _("Company domain"),
        "company.website": _("Company website"),
        "organization.name": _("Your organization"),
        "sender.name": _("Sender name"),
        "sender.email": _("Sender e-mail"),
        "unsubscribe_url": _("Unsubscribe link"),
    }
    fields = [(name, labels.get(name, name)) for name in labels if name in templating.STATIC_FIELDS]
    for definition in crm_selectors.custom_field_list(org=membership.organization, entity="contact"):
        fields.append((f"{templating.CUSTOM_PREFIX}{definition.key}", str(definition.label)))
    return fields


def _compose(request: SignedInRequest, campaign: Campaign | None) -> HttpResponse:
    membership = _writer(request)
    org = membership.organization
    segments = [(s.pk, s.name) for s in selectors.segment_list(org=org)]
    filter_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST, segments=segments)
        if form.is_valid():
            audience = form.cleaned_data["audience"]
            segment = None
            new_segment = None
            if audience == AUDIENCE_NEW:
                new_segment = (form.cleaned_data["segment_name"], filters_of(_filter_values(request.POST)))
            elif form.cleaned_data["segment"] is not None:
                segment = selectors.segment_get(org=org, segment_id=form.cleaned_data["segment"])
            try:
                saved = services.campaign_compose(
                    org=org,
                    actor=request.user,
                    campaign=campaign,
                    segment=segment,
                    new_segment=new_segment,
                    content=form.content(),
                )
            except ApplicationError as refused:
                # The campaign's fields beside themselves, a filter's beside the filter (the
                # service names the filters as the contact list does); the message above the form
                # when no field of the campaign is concerned.
                own = {k: v for k, v in refused.field_errors.items() if k in form.fields}
                filter_errors = {k: v for k, v in refused.field_errors.items() if k not in form.fields}
                form.refuse(type(refused)(refused.message, field_errors=own, code=refused.code))
                status = status_of(refused)
            else:
                return HttpResponseRedirect(reverse("web:campaign", args=[saved.pk]))
        else:
            status = 400
        query: QueryDict = request.POST
    else:
        initial: dict[str, Any] = {}
        if campaign is not None:
            initial = {name: getattr(campaign, name) for name in CampaignForm.CONTENT}
            initial["segment"] = campaign.segment_id
        form = CampaignForm(initial=initial, segments=segments)
        chosen = QueryDict(mutable=True)
        if campaign is not None and campaign.segment_id:
            chosen["segment"] = str(campaign.segment_id)
        query = chosen
    form.mark_errors()
    audience = _audience(membership, query)
    return _shell(
        request,
        "web/campaigns/compose.html",
        {
            "form": form,
            "campaign": campaign,
            "audience_new": query.get("audience") == AUDIENCE_NEW,
            "filter_fields": _filter_fields(membership, _filter_values(query), filter_errors),
            "lookups": Lookups(org, SPECS["contacts"]),
            "merge_fields": _merge_fields(membership),
            **audience,
        },
        section="campaigns",
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def campaign_new(request: SignedInRequest) -> HttpResponse:
    return _compose(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def campaign_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    campaign = _campaign(_writer(request), pk)
    if campaign.state != CampaignState.DRAFT:
        return _campaign_page(
            request,
            campaign,
            error=_("A %(state)s campaign cannot be edited.")
            % {"state": campaign.get_state_display().lower()},
            status=409,
        )
    return _compose(request, campaign)


# --- the campaign's page --------------------------------------------------------------------------


def _progress_context(membership: Membership, campaign: Campaign) -> dict[str, Any]:
    counts = selectors.recipient_counts(org=membership.organization, campaign=campaign)
    total = sum(counts.values())
    handled = counts[RecipientState.SENT] + counts[RecipientState.FAILED] + counts[RecipientState.SKIPPED]
    return {
        "campaign": campaign,
        "counts": counts,
        "total": total,
        "handled": handled,
        "percent": round(handled * 100 / total)
        if total
        else (100 if campaign.state == CampaignState.SENT else 0),
        "figures": selectors.campaign_figures(org=membership.organization, campaign=campaign),
        "unfinished": campaign.state in UNFINISHED,
        "can_edit": membership.has_role(Role.MEMBER),
        "can_pause": campaign.state in (CampaignState.SCHEDULED, CampaignState.SENDING),
        "can_resume": campaign.state == CampaignState.PAUSED,
        "can_cancel": campaign.state not in (CampaignState.SENT, CampaignState.CANCELLED),
    }


def _preview_contacts(membership: Membership, campaign: Campaign) -> list[Contact]:
    if campaign.segment is None:
        return []
    try:
        preview = selectors.segment_preview(org=membership.organization, filters=campaign.segment.filters)
    except ApplicationError:
        return []
    return preview.sample


def _recipients_context(membership: Membership, campaign: Campaign, query: QueryDict) -> dict[str, Any]:
    state = query.get("state") or None
    if state not in RecipientState.values:
        state = None
    page = _page_number(query)
    rows = selectors.recipient_page(
        org=membership.organization,
        campaign=campaign,
        state=state,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    return {
        "recipients": rows[:PAGE_SIZE],
        "recipient_state": state or "",
        "recipient_states": RECIPIENT_STATES,
        "recipients_page": page,
        "recipients_next": page + 1 if len(rows) > PAGE_SIZE else None,
        "recipients_previous": page - 1 if page > 1 else None,
    }


def _campaign_page(
    request: SignedInRequest,
    campaign: Campaign,
    *,
    error: str = "",
    schedule_form: ScheduleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    membership = _membership(request)
    context = {
        **_progress_context(membership, campaign),
        **_recipients_context(membership, campaign, request.GET),
        "error": error,
        "schedule_form": (schedule_form or ScheduleForm()).mark_errors(),
        "preview_contacts": _preview_contacts(membership, campaign)
        if campaign.state == CampaignState.DRAFT
        else [],
        "csv_url": reverse("api-report-campaigns") + "?format=csv",
    }
    response = _shell(request, "web/campaigns/campaign.html", context, section="campaigns", status=status)
    if request.method == "POST":
        # A refused action answers with the campaign's page: the address bar shows the page's URL.
        response["HX-Replace-Url"] = reverse("web:campaign", args=[campaign.pk])
    return response


@require_GET
@login_required
def campaign_page(request: SignedInRequest, pk: int) -> HttpResponse:
    return _campaign_page(request, _campaign(_membership(request), pk))


@require_GET
@login_required
def campaign_progress(request: SignedInRequest, pk: int) -> HttpResponse:
    """The state, progress and numbers fragment: refreshed on each ``campaign.progress`` event."""
    membership = _membership(request)
    return render(
        request, "web/campaigns/_progress.html", _progress_context(membership, _campaign(membership, pk))
    )


@require_GET
@login_required
def campaign_recipients(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    campaign = _campaign(membership, pk)
    if not request.htmx:
        return _campaign_page(request, campaign)
    context = {"campaign": campaign, **_recipients_context(membership, campaign, request.GET)}
    return render(request, "web/campaigns/_recipients.html", context)


@require_POST
@login_required
def campaign_send(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _writer(request)
    campaign = _campaign(membership, pk)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _campaign_page(request, campaign, schedule_form=form, status=400)
    at = form.cleaned_data["at"] if form.cleaned_data["when"] == "later" else None
    try:
        campaign = services.campaign_schedule(org=membership.organization, campaign=campaign, at=at)
    except ApplicationError as refused:
        return _campaign_page(
            request, campaign, error=refused.message, schedule_form=form, status=status_of(refused)
        )
    return HttpResponseRedirect(reverse("web:campaign", args=[campaign.pk]))


@require_POST
@login_required
def campaign_action(request: SignedInRequest, pk: int, action: str) -> HttpResponse:
    change = ACTIONS.get(action)
    if change is None:
        raise Http404("No such action.")
    membership = _writer(request)
    campaign = _campaign(membership, pk)
    try:
        campaign = change(org=membership.organization, campaign=campaign)
    except ApplicationError as refused:
        campaign = _campaign(membership, pk)
        return _campaign_page(request, campaign, error=refused.message, status=status_of(refused))
    return HttpResponseRedirect(reverse("web:campaign", args=[campaign.pk]))


# --- preview and test send ------------------------------------------------------------------------


def _preview_contact(membership: Membership, query: QueryDict) -> Contact | None:
    raw = query.get("contact", "")
    if not raw:
        return None
    try:
        return crm_selectors.contact_get(org=membership.organization, pk=raw)
    except (NotFound, ValueError) as missing:
        raise Http404(_("Unknown contact.")) from missing


@require_GET
@login_required
def campaign_preview(request: SignedInRequest, pk: int) -> HttpResponse:
    """The message as one contact of the segment would get it (viewers may preview, as in the API)."""
    membership = _membership(request)
    campaign = _campaign(membership, pk)
    contact = _preview_contact(membership, request.GET)
    context: dict[str, Any] = {"campaign": campaign, "contact_id": contact.pk if contact else ""}
    try:
        context["rendered"] = services.campaign_preview(
            org=membership.organization, campaign=campaign, contact=contact
        )
    except ApplicationError as refused:
        context["error"] = refused.message
    return render(
        request, "web/campaigns/_preview.html", context, status=200 if "rendered" in context else 400
    )


# The HTML part shown in a sandboxed frame of the campaign's page: its own inline styles and
# remote images may load; no script, form or plugin.
PREVIEW_POLICY = {
    "default-src": [NONE],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["*", "data:"],
    "frame-ancestors": [SELF],
    "base-uri": [NONE],
    "form-action": [NONE],
}


@csp(PREVIEW_POLICY)  # type: ignore[arg-type]  # django-csp types views as taking the request only
@require_GET
@login_required
def campaign_preview_html(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(cast(SignedInRequest, request))
    campaign = _campaign(membership, pk)
    contact = _preview_contact(membership, request.GET)
    try:
        rendered = services.campaign_preview(org=membership.organization, campaign=campaign, contact=contact)
    except ApplicationError as refused:
        return HttpResponse(refused.message, content_type="text/plain; charset=utf-8", status=400)
    response = HttpResponse(rendered.html or "", content_type="text/html; charset=utf-8")
    response["X-Frame-Options"] = "SAMEORIGIN"  # shown in a frame of the campaign's page
    return response


@require_POST
@login_required
def campaign_test_send(request: SignedInRequest, pk: int) -> HttpResponse:
    """Send the campaign, as the chosen contact would get it, to the signed-in user only."""
    membership = _writer(request)
    campaign = _campaign(membership, pk)
    contact = _preview_contact(membership, request.POST)
    try:
        address = services.campaign_test_send(
            org=membership.organization, campaign=campaign, actor=request.user, contact=contact
        )
    except ApplicationError as refused:
        return render(
            request, "web/campaigns/_test_sent.html", {"error": refused.message}, status=status_of(refused)
        )
    except OSError as failed:
        return render(
            request,
            "web/campaigns/_test_sent.html",
            {"error": _("The mail server could not be reached: %(reason)s") % {"reason": failed}},
            status=502,
        )
    return render(request, "web/campaigns/_test_sent.html", {"address": address})
