"""List pages of contacts, companies, deals and activities.

A thin layer over the CRM selectors and services: the URL's query string is the API's (filters,
``ordering``, ``cursor``), rows come from the list selector through the API's keyset pagination,
and an inline or bulk edit calls the service the API's PATCH or DELETE calls. Reading works
without JavaScript (links and GET forms); htmx fetches the next rows, cells and bulk progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from stratus.accounts.models import Role
from stratus.api.pagination import KeysetPagination
from stratus.crm import selectors as crm_selectors
from stratus.crm import versions
from stratus.crm.errors import CrmCode
from stratus.platform.errors import ApplicationError, Invalid, NotFound
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.lists import exports, selectors, services, state
from stratus.web.lists.rows import Lookups, Row, RowRenderer, cell_of, record_href, row_of, with_related
from stratus.web.lists.specs import COUNT_BOUND, CUSTOM_PREFIX, PAGE_SIZE, SPECS, Column, ListSpec
from stratus.web.models import BulkAction, BulkState, SavedView
from stratus.web.views import _shell

# --- what a page shows ----------------------------------------------------------------------------


def _new_rows_words(kind: str, count: int) -> str:
    """ "3 new contacts": the announcement of rows a colleague added, {count} left for the page."""
    words = {
        "contacts": ngettext("%(count)s new contact", "%(count)s new contacts", count),
        "companies": ngettext("%(count)s new company", "%(count)s new companies", count),
        "deals": ngettext("%(count)s new deal", "%(count)s new deals", count),
        "activities": ngettext("%(count)s new activity", "%(count)s new activities", count),
    }[kind]
    return words % {"count": "{count}"}


def _spec(kind: str) -> ListSpec:
    spec = SPECS.get(kind)
    if spec is None:
        raise Http404("No such list.")
    return spec


# --- the list's state -----------------------------------------------------------------------------


def _query_url(path: str, query: QueryDict, **changes: Any) -> str:
    params = query.copy()
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        elif isinstance(value, list):
            params.setlist(name, value)
        else:
            params[name] = value
    encoded = params.urlencode()
    return f"{path}?{encoded}" if encoded else path


def view_url(spec: ListSpec, view: SavedView) -> str:
    params: list[tuple[str, Any]] = [("view", view.pk)]
    for name, value in (view.filters or {}).items():
        for item in value if isinstance(value, list) else [value]:
            params.append((name, item))
    if view.ordering:
        params.append(("ordering", view.ordering))
    if view.columns:
        params.append(("columns", ",".join(view.columns)))
    return reverse(f"web:list-{spec.kind}") + "?" + urlencode(params)


def _count_text(spec: ListSpec, count: int) -> str:
    if count > COUNT_BOUND:
        return _("%(count)s+ %(noun)s") % {
            "count": formats.number_format(COUNT_BOUND, force_grouping=True),
            "noun": spec.noun,
        }
    number = formats.number_format(count, force_grouping=True)
    if spec.kind == "contacts":
        text = ngettext("%(count)s contact", "%(count)s contacts", count)
    elif spec.kind == "companies":
        text = ngettext("%(count)s company", "%(count)s companies", count)
    elif spec.kind == "deals":
        text = ngettext("%(count)s deal", "%(count)s deals", count)
    else:
        text = ngettext("%(count)s activity", "%(count)s activities", count)
    return text % {"count": number}


def _bounded_count(queryset: QuerySet[Any]) -> int:
    """Exact up to COUNT_BOUND; beyond it, COUNT_BOUND + 1 (the query stops counting there)."""
    return queryset.order_by().values("pk")[: COUNT_BOUND + 1].count()


def _definitions(spec: ListSpec, org: Any) -> list[Any]:
    return list(crm_selectors.custom_field_list(org=org, entity=spec.entity)) if spec.entity else []


def _list_context(request: SignedInRequest, spec: ListSpec, query: QueryDict) -> dict[str, Any]:
    """What the list's results (rows, count, filters, columns) show for the list state in ``query``."""
    membership = current_membership(request)
    org = membership.organization
    definitions = _definitions(spec, org)
    available = state.available_columns(spec, definitions)
    errors: dict[str, list[str]] = {}
    keys = state.column_keys(query.getlist("columns")) or list(spec.default_columns)
    columns, column_errors = state.check_columns(keys, available)
    if column_errors:
        errors["columns"] = column_errors
    if not columns:
        columns = [available[k] for k in spec.default_columns]
    ordering, ordering_problem = state.check_ordering(spec, query.get("ordering"))
    if ordering_problem:
        errors["ordering"] = [ordering_problem]
    filters = state.filters_of(query)
    lookups = Lookups(org, spec)
    rows: list[Row] = []
    count: int | None = None
    next_cursor = previous_cursor = None
    if not errors:
        try:
            queryset = spec.list_selector(org=org, filters=filters, ordering=ordering)
        except Invalid as refused:
            errors.update(refused.field_errors or {"filters": [refused.message]})
        else:
            paginator = KeysetPagination()
            paginator.page_size = PAGE_SIZE
            view = SimpleNamespace(orderings=spec.orderings, ordering=ordering)
            try:
                records = paginator.paginate_queryset(with_related(spec, queryset), Request(request), view)
            except ValidationError as refused:
                detail = refused.detail if isinstance(refused.detail, dict) else {"cursor": refused.detail}
                errors.update({str(k): [str(m) for m in v] for k, v in detail.items()})
            else:
                rows = [row_of(spec, record, columns, lookups) for record in records]
                next_cursor, previous_cursor = paginator.next_cursor, paginator.previous_cursor
                # A next page fetched by the scroll needs no count: the page already shows it.
                count = None if request.htmx and query.get("cursor") else _bounded_count(queryset)
    page_path = reverse(f"web:list-{spec.kind}")
    rows_path = reverse("web:list-rows", args=[spec.kind])
    base = query.copy()
    for name in ("cursor", "direction"):
        base.pop(name, None)
    headers = []
    for column in columns:
        sort_url = aria_sort = None
        if column.ordering:
            ascending = ordering == column.ordering
            descending = ordering == f"-{column.ordering}"
            wanted = f"-{column.ordering}" if ascending else column.ordering
            sort_url = _query_url(page_path, base, ordering=wanted)
            aria_sort = "ascending" if ascending else "descending" if descending else None
        headers.append({"column": column, "sort_url": sort_url, "aria_sort": aria_sort})
    chosen_keys = [c.key for c in columns]
    # The columns menu: each column, whether it is shown, and the words of its move buttons.
    move_up, move_down = _("Move %(label)s up"), _("Move %(label)s down")
    column_choices = [
        (c, shown, move_up % {"label": c.label}, move_down % {"label": c.label})
        for c, shown in [
            *((c, True) for c in columns),
            *((c, False) for key, c in available.items() if key not in chosen_keys),
        ]
    ]
    can_edit = membership.has_role(Role.MEMBER)
    filter_fields = state.filter_fields(spec, definitions, query, errors)
    shown = {f["name"] for f in filter_fields} | {"q", "ordering", "columns", "view", "cursor"}
    other_errors = [f"{name}: {m}" for name, ms in errors.items() if name not in shown for m in ms]
    return {
        "spec": spec,
        "kind": spec.kind,
        "columns": columns,
        "headers": headers,
        "column_choices": column_choices,
        "rows": rows,
        "rows_html": RowRenderer(spec.kind, columns, can_edit=can_edit).rows(rows) if rows else "",
        "count": count,
        "count_text": _count_text(spec, count) if count is not None else "",
        "count_bounded": count is not None and count > COUNT_BOUND,
        "errors": errors,
        "filters": filters,
        "query": query,
        "query_string": base.urlencode(),
        "ordering": ordering,
        "lookups": lookups,
        "filter_fields": filter_fields,
        "more_open": any(f["more"] and (f["value"] or f["errors"]) for f in filter_fields),
        "other_errors": other_errors,
        "page_path": page_path,
        "rows_path": rows_path,
        "next_rows_url": _query_url(rows_path, base, cursor=next_cursor, direction="next")
        if next_cursor
        else "",
        "previous_rows_url": _query_url(rows_path, base, cursor=previous_cursor, direction="previous")
        if previous_cursor
        else "",
        "next_page_url": _query_url(page_path, base, cursor=next_cursor) if next_cursor else "",
        "first_page_url": _query_url(page_path, base) if query.get("cursor") else "",
        "direction": query.get("direction", "next"),
        "membership": membership,
        "can_edit": can_edit,
        "bulk_actions": [(a, BulkAction(a).label) for a in spec.bulk_actions],
        "column_span": len(columns) + (1 if can_edit else 0),
        "user_id": request.user.pk,
        "new_rows_one": _new_rows_words(spec.kind, 1),
        "new_rows_many": _new_rows_words(spec.kind, 2),
        "row_url": reverse("web:list-row", args=[spec.kind, 0]) + (f"?{base.urlencode()}" if base else ""),
    }


# --- pages and fragments --------------------------------------------------------------------------


def _page(
    request: SignedInRequest,
    spec: ListSpec,
    query: QueryDict,
    extra: Mapping[str, Any] | None = None,
    status: int | None = None,
    *,
    views: tuple[list[SavedView], SavedView | None] | None = None,
) -> HttpResponse:
    """The whole list page; ``views``: the saved views and the default one, if the view read them."""
    context = _list_context(request, spec, query)
    org = context["membership"].organization
    saved_views, default = views or selectors.saved_views_and_default(
        org=org, user=request.user, kind=spec.kind
    )
    view_id = query.get("view", "")
    context.update(
        {
            "saved_views": [(v, view_url(spec, v)) for v in saved_views],
            "current_view": next((v for v in saved_views if str(v.pk) == view_id), None),
            "default_view": default,
            **(extra or {}),
        }
    )
    response = _shell(request, "web/lists/list.html", context, section=spec.kind)
    if status is not None:
        response.status_code = status
    elif context["errors"]:
        response.status_code = 400
    return response


@require_http_methods(["GET", "HEAD"])
@login_required
def list_page(request: SignedInRequest, kind: str) -> HttpResponse:
    spec = _spec(kind)
    views = selectors.saved_views_and_default(
        org=current_membership(request).organization, user=request.user, kind=spec.kind
    )
    default = views[1]
    if default is not None and not request.GET:
        return HttpResponseRedirect(view_url(spec, default))
    return _page(request, spec, request.GET, views=views)


@require_GET
@login_required
def rows(request: SignedInRequest, kind: str) -> HttpResponse:
    """The next (or previous) page of rows of a list, for infinite scroll."""
    spec = _spec(kind)
    context = _list_context(request, spec, request.GET)
    response = render(request, "web/lists/_page.html", context)
    if context["errors"]:
        response.status_code = 400
    return response


@require_GET
@login_required
def row(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """One row of a list, for its state in the query string (columns, filters): the page swaps it
    in when a live event says the record changed. 204 when the record no longer matches the
    filters, 404 when it is not one of the organization's: the page drops the row."""
    spec = _spec(kind)
    membership = current_membership(request)
    org = membership.organization
    available = state.available_columns(spec, _definitions(spec, org))
    keys = state.column_keys(request.GET.getlist("columns")) or list(spec.default_columns)
    columns, _problems = state.check_columns(keys, available)
    if not columns:
        columns = [available[k] for k in spec.default_columns]
    try:
        queryset = spec.list_selector(org=org, filters=state.filters_of(request.GET))
    except Invalid:
        queryset = spec.list_selector(org=org)
    record = with_related(spec, queryset).filter(pk=pk).first()
    if record is None:
        if not spec.list_selector(org=org).filter(pk=pk).exists():
            raise Http404("No such record.")
        return HttpResponse(status=204)
    renderer = RowRenderer(spec.kind, columns, can_edit=membership.has_role(Role.MEMBER))
    return HttpResponse(renderer.row(row_of(spec, record, columns, Lookups(org, spec))))


# --- inline edit ----------------------------------------------------------------------------------


def _cell_record(request: SignedInRequest, spec: ListSpec, pk: int) -> tuple[Any, Any]:
    org = current_membership(request).organization
    record = with_related(spec, spec.list_selector(org=org)).filter(pk=pk).first()
    if record is None:
        raise Http404("No such record.")
    return org, record


def _cell_column(spec: ListSpec, org: Any, key: str) -> Column:
    column = state.available_columns(spec, _definitions(spec, org)).get(key)
    if column is None:
        raise Http404("No such column.")
    return column


def _require_member(request: SignedInRequest) -> None:
    if not current_membership(request).has_role(Role.MEMBER):
        raise PermissionDenied(_("Viewers cannot change records."))


def _parse(column: Column, raw: str) -> Any:
    """The value the service (and the API) takes for what the user typed in a cell."""
    text = raw.strip()
    edit = column.edit
    if edit == "tags":
        return [name.strip() for name in raw.split(",") if name.strip()]
    if edit in ("member", "stage"):
        return int(text) if text.isdigit() else (text or None)
    if edit == "flag":
        return text == "true"
    if edit in ("date", "decimal", "number", "choice") and not text:
        return None
    if edit == "datetime":
        if not text:
            return None
        moment = parse_datetime(text) if len(text) <= 40 else None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment if moment is not None else text
    return raw


def _cell_response(
    request: SignedInRequest,
    spec: ListSpec,
    record: Any,
    column: Column,
    *,
    editing: bool,
    value: str | None = None,
    error: str = "",
) -> HttpResponse:
    membership = current_membership(request)
    lookups = Lookups(membership.organization, spec)
    cell = cell_of(spec, column, record, lookups)
    row = Row(record.pk, str(record), record_href(spec, record), [cell])
    first = request.GET.get("first") == "1" or request.POST.get("first") == "1"
    if not editing:
        renderer = RowRenderer(spec.kind, (), can_edit=membership.has_role(Role.MEMBER))
        return HttpResponse(renderer.cell(row, cell, first=first))
    return render(
        request,
        "web/lists/_cell_editor.html",
        {
            "kind": spec.kind,
            "row": row,
            "cell": cell,
            "value": cell.value if value is None else value,
            "error": error,
            "lookups": lookups,
            "first": first,
        },
    )


@require_GET
@login_required
def cell(request: SignedInRequest, kind: str, pk: int, column: str) -> HttpResponse:
    spec = _spec(kind)
    org, record = _cell_record(request, spec, pk)
    return _cell_response(request, spec, record, _cell_column(spec, org, column), editing=False)


@require_http_methods(["GET", "POST"])
@login_required
def cell_edit(request: SignedInRequest, kind: str, pk: int, column: str) -> HttpResponse:
    """GET: the cell's editor; POST: save through the record's CRM service (the API's PATCH).

    As in the API, the editor comes with the record's version (``ETag``) and the save sends it
    back (``If-Match``, set by lists.ts): a record a colleague changed meanwhile is refused by the
    service, and the editor stays open with what was typed, the new value named and the new
    version (saving again knowingly replaces it)."""
    spec = _spec(kind)
    org, record = _cell_record(request, spec, pk)
    chosen = _cell_column(spec, org, column)
    _require_member(request)
    if chosen.edit is None:
        raise Http404("This column is not editable.")
    if request.method == "GET":
        response = _cell_response(request, spec, record, chosen, editing=True)
        response["ETag"] = versions.etag(record)
        return response
    raw = request.POST.get("value", "")
    value = _parse(chosen, raw)
    data: dict[str, Any]
    if chosen.service_field == "custom_fields":
        data = {"custom_fields": {chosen.key.removeprefix(CUSTOM_PREFIX): value}}
    else:
        data = {chosen.service_field: value}
    if_match = request.headers.get("If-Match")
    try:
        if if_match is not None:
            data["expected_updated_at"] = versions.expected_version(if_match, record.updated_at)
        spec.update_service(org=org, actor=request.user, **{spec.record_argument: record.pk}, **data)
    except ApplicationError as refused:
        if isinstance(refused, NotFound):
            raise Http404(refused.message) from None
        if refused.code == CrmCode.STALE:
            _org, fresh = _cell_record(request, spec, pk)
            now = cell_of(spec, chosen, fresh, Lookups(org, spec)).text
            error = _(
                "Someone else changed this since you opened it; it is now “%(now)s”. "
                "Save again to replace it with yours."
            ) % {"now": now or _("empty")}
            response = _cell_response(request, spec, fresh, chosen, editing=True, value=raw, error=error)
            response["ETag"] = versions.etag(fresh)
            return response
        messages = refused.field_errors.get(chosen.key) or refused.field_errors.get(chosen.service_field)
        others = [m for field, ms in refused.field_errors.items() for m in ms if m not in (messages or [])]
        error = " ".join([*(messages or []), *others]) or refused.message
        return _cell_response(request, spec, record, chosen, editing=True, value=raw, error=error)
    fresh = with_related(spec, spec.list_selector(org=org)).get(pk=record.pk)
    return _cell_response(request, spec, fresh, chosen, editing=False)


# --- saved views ----------------------------------------------------------------------------------


def _view_input(request: SignedInRequest) -> tuple[QueryDict, dict[str, Any]]:
    query = QueryDict(request.POST.get("query", ""), mutable=False)
    return query, {
        "name": request.POST.get("name", ""),
        "filters": state.filters_of(query),
        "ordering": query.get("ordering", ""),
        "columns": state.column_keys(query.getlist("columns")),
        "shared": request.POST.get("shared") == "on",
        "make_default": request.POST.get("default") == "on",
        "view": int(request.POST["view"]) if request.POST.get("view", "").isdigit() else None,
    }


@require_POST
@login_required
def view_save(request: SignedInRequest, kind: str) -> HttpResponse:
    spec = _spec(kind)
    membership = current_membership(request)
    query, data = _view_input(request)
    try:
        saved = services.saved_view_save(
            org=membership.organization, actor=request.user, kind=spec.kind, **data
        )
    except NotFound:
        raise Http404("No such view.") from None
    except Invalid as refused:
        return _page(
            request,
            spec,
            query,
            {"view_errors": refused.field_errors, "view_name": data["name"], "view_open": True},
            status=400,
        )
    return HttpResponseRedirect(view_url(spec, saved))


@require_POST
@login_required
def view_delete(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    spec = _spec(kind)
    try:
        services.saved_view_delete(org=current_membership(request).organization, actor=request.user, view=pk)
    except NotFound:
        raise Http404("No such view.") from None
    return HttpResponseRedirect(reverse(f"web:list-{spec.kind}") + "?view=")


@require_POST
@login_required
def view_default(request: SignedInRequest, kind: str) -> HttpResponse:
    spec = _spec(kind)
    chosen = request.POST.get("view", "")
    try:
        services.default_view_set(
            org=current_membership(request).organization,
            actor=request.user,
            kind=spec.kind,
            view=int(chosen) if chosen.isdigit() else None,
        )
    except (NotFound, Invalid):
        raise Http404("No such view.") from None
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse(f"web:list-{spec.kind}")
    return HttpResponseRedirect(target)


# --- bulk actions ---------------------------------------------------------------------------------


def _bulk_status(request: SignedInRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    template = "web/lists/_bulk.html" if request.htmx else "web/lists/bulk.html"
    if request.htmx:
        response = render(request, template, context, status=status)
    else:
        response = _shell(request, template, context, section=context["spec"].kind)
        response.status_code = status
    job = context.get("job")
    if job is not None and job.state == BulkState.DONE:
        response["HX-Trigger"] = "listChanged"
    return response


@require_POST
@login_required
def bulk(request: SignedInRequest, kind: str) -> HttpResponse:
    spec = _spec(kind)
    _require_member(request)
    membership = current_membership(request)
    query = QueryDict(request.POST.get("query", ""), mutable=False)
    action = request.POST.get("action", "")
    every = request.POST.get("all") == "1"
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit() and len(i) < 19]
    value = {
        BulkAction.OWNER: request.POST.get("owner"),
        BulkAction.TAGS: request.POST.get("tags"),
        BulkAction.STAGE: request.POST.get("stage"),
    }.get(action)  # type: ignore[call-overload]
    context: dict[str, Any] = {
        "spec": spec,
        "kind": spec.kind,
        "post": request.POST,
        "list_url": _query_url(reverse(f"web:list-{spec.kind}"), query),
    }
    if not every and not ids:
        return _bulk_status(request, {**context, "error": _("Choose some rows first.")}, status=400)
    if action == BulkAction.DELETE and request.POST.get("confirmed") != "1":
        org = membership.organization
        try:
            count = (
                _bounded_count(spec.list_selector(org=org, filters=state.filters_of(query)))
                if every
                else len(set(ids))
            )
        except Invalid as refused:
            return _bulk_status(request, {**context, "error": refused.message}, status=400)
        context["confirm"] = _count_text(spec, count)
        return _bulk_status(request, context)
    try:
        job = services.bulk_job_create(
            org=membership.organization,
            actor=request.user,
            kind=spec.kind,
            action=action,
            value=value,
            ids=None if every else ids,
            filters=state.filters_of(query) if every else None,
        )
    except Invalid as refused:
        messages = [m for ms in refused.field_errors.values() for m in ms] or [refused.message]
        return _bulk_status(request, {**context, "error": " ".join(messages)}, status=400)
    return _bulk_status(request, {**context, "job": job})


@require_GET
@login_required
def bulk_progress(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = current_membership(request)
    try:
        job = selectors.bulk_job_get(org=membership.organization, pk=pk)
    except NotFound:
        raise Http404("No such job.") from None
    spec = _spec(job.kind)
    return _bulk_status(
        request, {"spec": spec, "kind": spec.kind, "job": job, "list_url": reverse(f"web:list-{spec.kind}")}
    )


# --- CSV export -----------------------------------------------------------------------------------


def _export_status(request: SignedInRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if request.htmx:
        return render(request, "web/lists/_export.html", context, status=status)
    response = _shell(request, "web/lists/export.html", context, section=context["spec"].kind)
    response.status_code = status
    return response


@require_POST
@login_required
def export_start(request: SignedInRequest, kind: str) -> HttpResponse:
    """Start a CSV export of the list as the page shows it (the ``query`` of its URL)."""
    spec = _spec(kind)
    membership = current_membership(request)
    query = QueryDict(request.POST.get("query", ""), mutable=False)
    context: dict[str, Any] = {
        "spec": spec,
        "kind": spec.kind,
        "list_url": _query_url(reverse(f"web:list-{spec.kind}"), query),
    }
    try:
        job = exports.export_job_create(
            org=membership.organization,
            actor=request.user,
            kind=spec.kind,
            filters=state.filters_of(query),
            ordering=query.get("ordering", ""),
            columns=state.column_keys(query.getlist("columns")),
        )
    except Invalid as refused:
        messages = [f"{name}: {m}" for name, ms in refused.field_errors.items() for m in ms]
        return _export_status(request, {**context, "error": " ".join(messages) or refused.message}, 400)
    return _export_status(request, {**context, "job": job})


def _own_export(request: SignedInRequest, pk: int) -> Any:
    try:
        return selectors.export_job_get(
            org=current_membership(request).organization, user=request.user, pk=pk
        )
    except NotFound:
        raise Http404("No such export.") from None


@require_GET
@login_required
def export_progress(request: SignedInRequest, pk: int) -> HttpResponse:
    job = _own_export(request, pk)
    spec = _spec(job.kind)
    return _export_status(
        request, {"spec": spec, "kind": spec.kind, "job": job, "list_url": reverse(f"web:list-{spec.kind}")}
    )


@require_GET
@login_required
def export_download(request: SignedInRequest, pk: int) -> HttpResponse:
    """The export's file through a short-lived link; 410 once the export has expired."""
    job = _own_export(request, pk)
    try:
        url = exports.export_download_url(job)
    except NotFound:
        raise Http404("The export is not ready.") from None
    except Invalid:
        spec = _spec(job.kind)
        context = {"spec": spec, "kind": spec.kind, "job": job, "list_url": reverse(f"web:list-{spec.kind}")}
        return _export_status(request, {**context, "expired": True}, status=410)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response
