"""The dashboard (the app's home once signed in) and the pages that arrange dashboards.

Thin views: the pickers are read by the reports module's own filter parsing, the numbers come
from the report engines (``stratus.reports.engines.run``, as the API's), and ``charts`` shapes
them for the page; the page renders the numbers into a JSON script element and a table per
chart, and ``frontend/src/dashboard.ts`` only draws them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stratus.accounts.models import Organization, Role
from stratus.crm import selectors as crm_selectors
from stratus.imports.exports import stream_csv
from stratus.platform.errors import Forbidden, Invalid, NotFound, Unavailable, Unprocessable, status_of
from stratus.reports import engines
from stratus.reports.contracts import REPORTS, ReportFilters, flat_table
from stratus.reports.filters import report_filters
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.dashboard import charts as dashboard_charts
from stratus.web.dashboard import selectors, services
from stratus.web.dashboard.forms import DashboardForm
from stratus.web.models import DASHBOARD_CHARTS, Dashboard
from stratus.web.views import _my_tasks, _shell

# The pickers, as the query string holds them (a reload or a shared link keeps the state).
PICKERS = ("date_from", "date_to", "pipeline", "currency")
# The report behind each chart (the tasks panel has none).
CHART_REPORTS = {"funnel": "funnel", "won": "won-lost", "forecast": "forecast", "activity": "activity"}
DEFAULT_CHARTS = list(DASHBOARD_CHARTS)


def _params(query: QueryDict, report: str) -> dict[str, list[str]]:
    """The pickers a report takes (the activity report has no pipeline or currency)."""
    taken = REPORTS[report].filters
    return {name: query.getlist(name) for name in PICKERS if name in taken and name in query}


def _filters(org: Organization, query: QueryDict, report: str) -> ReportFilters:
    return report_filters(
        org=org, contract=REPORTS[report], params=_params(query, report), as_of=timezone.now()
    )


def _chosen(request: SignedInRequest, org: Organization) -> tuple[Dashboard | None, list[Dashboard]]:
    mine = list(selectors.dashboard_list(org=org, user=request.user))
    wanted = request.GET.get("dashboard", "")
    chosen = next((d for d in mine if str(d.pk) == wanted), None)
    return chosen, mine


def _panels(
    request: SignedInRequest, org: Organization, keys: list[str]
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Each chosen chart's panel (its report's result, charts and CSV link), or the pickers' errors."""
    errors: dict[str, list[str]] = {}
    results: dict[str, tuple[Any, ReportFilters]] = {}
    failures: dict[str, str] = {}
    for key in keys:
        report = CHART_REPORTS.get(key)
        if report is None:
            continue
        try:
            filters = _filters(org, request.GET, report)
        except Invalid as refused:
            for name, messages in refused.field_errors.items():
                errors.setdefault(name, list(messages))
            continue
        try:
            results[key] = (engines.run(report, filters), filters)
        except (Unavailable, Unprocessable) as failed:  # the analytics store is down, or over a limit
            failures[key] = failed.message
    if errors:
        return [], errors
    panels = []
    for key in keys:
        panel: dict[str, Any] = {"key": key, "title": _(DASHBOARD_CHARTS[key]), "failed": failures.get(key)}
        if key in results:
            result, filters = results[key]
            report = CHART_REPORTS[key]
            panel.update(
                result=result,
                csv_url=f"{reverse('web:dashboard-csv', args=[report])}?{_query(request.GET, report)}",
            )
            if key == "funnel":
                panel["charts"] = dashboard_charts.funnel_charts(result, filters)
            elif key == "won":
                panel["charts"] = dashboard_charts.won_charts(result, filters)
            elif key == "forecast":
                panel["charts"] = dashboard_charts.forecast_charts(result, filters)
            else:
                panel["charts"] = dashboard_charts.activity_charts(result, filters)
                panel["overdue"] = [
                    {"row": row, "url": dashboard_charts.overdue_url(row.owner_id)}
                    for row in result.overdue_by_owner
                ]
        panels.append(panel)
    return panels, errors


PLAIN_TEXT = "text/plain; charset=utf-8"


def _query(query: QueryDict, report: str) -> str:
    kept = QueryDict(mutable=True)
    for name, values in _params(query, report).items():
        kept.setlist(name, values)
    return kept.urlencode()


def dashboard_page(request: SignedInRequest) -> HttpResponse:
    """The dashboard: the chosen (or default) charts for the pickers in the query string. The
    pickers' htmx request gets the charts fragment; a refused picker is shown beside it (400)."""
    membership = current_membership(request)
    org = membership.organization
    chosen, dashboards = _chosen(request, org)
    keys = list(chosen.charts) if chosen is not None else DEFAULT_CHARTS
    panels, errors = _panels(request, org, keys)
    context: dict[str, Any] = {
        "panels": panels,
        "errors": errors,
        "chart_data": [c.as_json() for p in panels for c in p.get("charts", [])],
        "dashboard": chosen,
        "dashboards": dashboards,
        "pipelines": list(crm_selectors.pipeline_list(org=org).values("pk", "name")),
        "currencies": selectors.deal_currencies(org=org),
        "picked": {name: request.GET.get(name, "") for name in (*PICKERS, "dashboard")},
        "is_admin": membership.has_role(Role.ADMIN),
        "show_tasks": "tasks" in keys,
    }
    if "tasks" in keys:
        context.update(_my_tasks(request))
    status = 400 if errors else 200
    if request.htmx and request.htmx.target == "dashboard-view":
        return _shell(request, "web/dashboard/_view.html", context, section="home", status=status)
    return _shell(request, "web/dashboard/page.html", context, section="home", status=status)


@require_GET
@login_required
def report_csv(request: SignedInRequest, report: str) -> HttpResponse | StreamingHttpResponse:
    """A chart's report as the API's CSV (the same flat table), for the page's organization."""
    if report not in CHART_REPORTS.values():
        raise Http404("No such report.")
    org = current_membership(request).organization
    try:
        filters = _filters(org, request.GET, report)
    except Invalid as refused:
        messages = [f"{name}: {m}" for name, ms in refused.field_errors.items() for m in ms]
        return HttpResponse("\n".join(messages), status=400, content_type=PLAIN_TEXT)
    try:
        header, rows = flat_table(engines.run(report, filters))
    except (Unavailable, Unprocessable) as failed:
        refusal = HttpResponse(failed.message, status=status_of(failed), content_type=PLAIN_TEXT)
        retry_after = getattr(failed, "retry_after", None)
        if retry_after:
            refusal["Retry-After"] = str(retry_after)
        return refusal
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{report}-{stamp}.csv"'
    return response


def _cell(value: Any) -> Any:
    """As the API's CSV: instants in UTC, days as ISO dates."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _csv(header: list[str], rows: list[list[Any]]) -> Iterator[str]:
    return stream_csv(header, ([_cell(value) for value in row] for row in rows))


# --- arranging dashboards (admins and owners) ---------------------------------------------------------


def _admin(request: SignedInRequest) -> Organization:
    membership = current_membership(request)
    if not membership.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only admins and owners arrange dashboards."))
    return membership.organization


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def dashboard_edit(request: SignedInRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a dashboard: its name, its charts and whether it is shared."""
    org = _admin(request)
    existing = None
    if pk is not None:
        try:
            existing = selectors.dashboard_get(org=org, user=request.user, pk=pk)
        except NotFound as missing:
            raise Http404(missing.message) from None
    initial = (
        {"name": existing.name, "charts": existing.charts, "shared": existing.shared}
        if existing is not None
        else {"charts": DEFAULT_CHARTS}
    )
    form = DashboardForm(request.POST or None, initial=initial)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        try:
            saved = services.dashboard_save(
                org=org,
                actor=request.user,
                name=data.get("name", ""),
                charts=[key for key in DASHBOARD_CHARTS if key in (data.get("charts") or [])],
                shared=bool(data.get("shared")),
                dashboard=existing,
            )
        except (Invalid, Forbidden, NotFound) as refused:
            errors = {name: list(messages) for name, messages in refused.field_errors.items()}
            errors = errors or {"form": [refused.message]}
            status = status_of(refused)
        else:
            return HttpResponseRedirect(f"{reverse('web:home')}?dashboard={saved.pk}")
    return _shell(
        request,
        "web/dashboard/form.html",
        {"form": form, "errors": errors, "existing": existing, "charts": DASHBOARD_CHARTS},
        section="home",
        status=status,
    )


@require_POST
@login_required
def dashboard_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    org = _admin(request)
    try:
        services.dashboard_delete(org=org, actor=request.user, dashboard=pk)
    except NotFound as missing:
        raise Http404(missing.message) from None
    return HttpResponseRedirect(reverse("web:home"))
