"""The import wizard: upload a CSV, map its columns, start, follow the progress, read the errors.

Thin views over ``stratus.imports`` (the services and selectors ``/api/v1/imports`` uses): the
same checks refuse the same files, with the service's message beside the field. A file goes
straight to object storage (``uploads.import_upload_start``); a signed *file grant* carries it
from step to step, and only the head of the file is read until the import starts.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stratus.accounts.models import Membership, Role
from stratus.imports import exports, selectors, services, uploads
from stratus.imports.models import ImportJob, ImportKind, ImportState
from stratus.platform.errors import ApplicationError, Forbidden, Invalid, NotFound
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.imports.forms import MappingForm, UploadForm, UploadStartForm
from stratus.web.views import _shell

IMPORTS_PER_PAGE = 50
FINAL_STATES = (ImportState.DONE, ImportState.FAILED, ImportState.CANCELLED)


def _importer(request: SignedInRequest) -> Membership:
    """The page's membership, refused unless it may import (members and above, as the API)."""
    membership = current_membership(request)
    if not membership.has_role(Role.MEMBER):
        raise PermissionDenied(_("Viewers cannot import records."))
    return membership


def _job(request: SignedInRequest, pk: int) -> ImportJob:
    try:
        return selectors.import_get(org=current_membership(request).organization, job_id=pk)
    except NotFound:
        raise Http404("No such import.") from None


# --- the imports page ----------------------------------------------------------------------------


@require_GET
@login_required
def imports_page(request: SignedInRequest) -> HttpResponse:
    org = current_membership(request).organization
    jobs = list(
        selectors.import_list(org=org)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:IMPORTS_PER_PAGE]
    )
    return _shell(request, "web/imports/list.html", {"jobs": jobs}, section="imports")


# --- step 1: the file ----------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def import_new(request: SignedInRequest) -> HttpResponse:
    """The upload step; a POST here is the form's own upload (without script, or a small file)."""
    membership = _importer(request)
    form = UploadForm()
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                grant = uploads.import_upload_receive(
                    org=membership.organization,
                    actor=request.user,
                    name=upload.name or "",
                    content=upload,
                    size=upload.size or 0,
                )
            except ApplicationError as refused:
                form.refuse(refused)
            else:
                return redirect(_map_url(grant.sign()))
        status = 400
    return _shell(
        request, "web/imports/upload.html", {"form": form.mark_errors()}, section="imports", status=status
    )


def _map_url(token: str) -> str:
    return f"{reverse('web:import-map')}?file={token}"


@require_POST
@login_required
def upload_start(request: SignedInRequest) -> JsonResponse:
    """Where the browser sends the file: an S3 presigned POST, or the embedded default's signed
    upload URL; and where to go once it is there."""
    membership = _importer(request)
    form = UploadStartForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"detail": _("Choose a file."), "errors": form.errors}, status=400)
    try:
        grant, target = uploads.import_upload_start(
            org=membership.organization,
            actor=request.user,
            name=form.cleaned_data["name"],
            size=form.cleaned_data["size"],
            local_url=lambda token: reverse("web:import-local-upload", kwargs={"token": token}),
        )
    except ApplicationError as refused:
        messages = [m for ms in refused.field_errors.values() for m in ms]
        return JsonResponse({"detail": refused.message, "errors": messages}, status=400)
    return JsonResponse({"url": target.url, "fields": target.fields, "next": _map_url(grant.sign())})


@require_POST
def local_upload(request: SignedInRequest, token: str) -> HttpResponse:
    """The embedded default's stand-in for S3's presigned POST: writes the file to storage.

    Authorised by the signed token in the URL (bound to one key and size), like a presigned POST;
    being same-origin, it also takes the page's CSRF token."""
    try:
        upload = uploads.local_upload_check(token)
    except Forbidden as refused:
        return JsonResponse({"detail": refused.message}, status=403)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > upload.size + 64 * 1024:
        return JsonResponse({"detail": _("The file is larger than announced.")}, status=413)
    received = request.FILES.get("file")
    if received is None:
        return JsonResponse({"detail": _("Send the file in the form field 'file'.")}, status=400)
    try:
        uploads.local_upload_write(upload=upload, content=received, size=received.size or 0)
    except Invalid as refused:
        return JsonResponse(
            {"detail": refused.message}, status=409 if refused.code == "already_uploaded" else 400
        )
    return HttpResponse(status=204)


# --- step 2: the mapping, the preview, the start ---------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def import_map(request: SignedInRequest) -> HttpResponse:
    membership = _importer(request)
    org = membership.organization
    token = request.GET.get("file", "")
    context: dict[str, Any] = {"file_token": token}
    try:
        grant = uploads.file_grant(org=org, actor=request.user, token=token)
        sample = uploads.file_head(grant)
    except Forbidden:
        raise Http404("No such upload.") from None
    except Invalid as refused:
        return _shell(
            request,
            "web/imports/map.html",
            {**context, "file_error": refused.message},
            section="imports",
            status=400,
        )
    context["grant"] = grant
    data = request.POST if request.method == "POST" else (request.GET if "kind" in request.GET else None)
    params = data if data is not None else QueryDict()
    kind = params.get("kind") or ImportKind.CONTACTS
    kind = kind if kind in ImportKind.values else ImportKind.CONTACTS
    encoding = params.get("encoding") or None
    delimiter = params.get("delimiter") or None
    try:
        found = uploads.import_columns(
            org=org, kind=kind, sample=sample, encoding=encoding, delimiter=delimiter
        )
    except Invalid as refused:  # the file cannot be read as given (empty, another encoding, ...)
        bound = data if data is not None else {"kind": kind, "mapped_kind": kind, "dedup_policy": "skip"}
        form = MappingForm(bound, headers=[], guesses=[], fields=[])
        form.is_valid()
        form.refuse(refused)
        context.update(form=form.mark_errors(), preview=None)
        return _shell(request, "web/imports/map.html", context, section="imports", status=400)
    form = MappingForm(data, headers=found.headers, guesses=found.guesses, fields=found.available_fields)
    preview = None
    status = 200
    if form.is_valid():
        options = {
            "kind": form.cleaned_data["kind"],
            "encoding": form.cleaned_data["encoding"] or None,
            "delimiter": form.cleaned_data["delimiter"] or None,
            "dedup_policy": form.cleaned_data["dedup_policy"],
        }
        try:
            if request.method == "POST":
                job = uploads.import_start(
                    org=org, actor=request.user, grant=grant, mapping=form.overrides(), **options
                )
                return redirect("web:import-detail", pk=job.pk)
            preview = uploads.import_preview(org=org, sample=sample, overrides=form.overrides(), **options)
        except ApplicationError as refused:
            form.refuse(refused)
            status = 400
    elif data is None:  # first visit: the guesses, previewed
        try:
            preview = uploads.import_preview(org=org, kind=kind, sample=sample)
        except ApplicationError as refused:
            form = MappingForm(
                {"kind": kind, "dedup_policy": "skip", "mapped_kind": kind},
                headers=found.headers,
                guesses=found.guesses,
                fields=found.available_fields,
            )
            form.is_valid()
            form.refuse(refused)
    else:
        status = 400
    if request.method == "POST" and status == 200:
        status = 400
    context.update(form=form.mark_errors(), preview=preview, columns=found, **_preview_table(preview))
    if request.htmx and request.method == "GET":
        return render(request, "web/imports/_mapping.html", context, status=status)
    return _shell(request, "web/imports/map.html", context, section="imports", status=status)


def _preview_table(preview: uploads.Preview | None) -> dict[str, Any]:
    """The preview's mapped columns only: (header, field) and each row's values for them."""
    if preview is None:
        return {}
    analysis = preview.analysis
    shown = [index for index, target in enumerate(analysis.mapping) if target]
    return {
        "preview_columns": [(analysis.headers[i], analysis.mapping[i]) for i in shown],
        "preview_rows": [
            {"number": row.number, "error": row.error, "shown": [row.cells[i] for i in shown]}
            for row in preview.rows
        ],
    }


# --- step 3: progress, cancel, the error report ------------------------------------------------------


def _detail_context(request: SignedInRequest, job: ImportJob) -> dict[str, Any]:
    errors = list(selectors.import_error_report(job=job))[:20] if job.failed else []
    list_name = "web:list-contacts" if job.kind == ImportKind.CONTACTS else "web:list-companies"
    return {
        "job": job,
        "final": job.state in FINAL_STATES,
        "errors": errors,
        "records_url": f"{reverse(list_name)}?import={job.pk}",
        "can_edit": current_membership(request).has_role(Role.MEMBER),
    }


@require_GET
@login_required
def import_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    context = _detail_context(request, job)
    if request.htmx and not request.htmx.boosted:
        return render(request, "web/imports/_progress.html", context)
    return _shell(request, "web/imports/detail.html", context, section="imports")


@require_POST
@login_required
def import_cancel(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _importer(request)
    job = services.import_cancel(org=membership.organization, job=_job(request, pk))
    if request.htmx and not request.htmx.boosted:
        return render(request, "web/imports/_progress.html", _detail_context(request, job))
    return redirect("web:import-detail", pk=job.pk)


def _report_rows(job: ImportJob) -> Any:
    yield from ([row, column, reason] for row, column, reason in selectors.import_error_report(job=job))


@require_GET
@login_required
def import_errors_csv(request: SignedInRequest, pk: int) -> StreamingHttpResponse:
    """The error report: each row that was not imported, the column at fault, the reason."""
    job = _job(request, pk)
    rows = exports.stream_csv(["row", "column", "reason"], _report_rows(job))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@require_GET
@login_required
def running(request: SignedInRequest) -> HttpResponse:
    """The shell's indicator of the member's running imports (refreshed by live events)."""
    membership = current_membership(request)
    jobs = selectors.imports_running(org=membership.organization, actor=request.user)
    return render(request, "web/imports/_indicator.html", {"running_imports": jobs})
