"""Record pages (contact, company, deal): fields edited in place, related records, the timeline,
activities and documents. Thin views over the same crm, reminders and documents services and
selectors as the API.

A record of another organization is a 404 (the selectors read inside the signed-in user's
organization). Viewers get no edit controls and every write here refuses them (403). A field's
edit form carries the row's ``updated_at``, which the save passes to the crm service as the version
it expects: a record a colleague changed meanwhile is refused (``CrmCode.STALE``) with a message and
the new value, and what the user typed stays in the form; nothing is overwritten.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Membership, Organization, Role, User
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.api import ActivityWriteSerializer
from stratus.crm.errors import CrmCode
from stratus.crm.models import ActivityKind
from stratus.documents import selectors as document_selectors
from stratus.documents import services as document_services
from stratus.documents.models import Document
from stratus.documents.storage import document_store
from stratus.platform.errors import ApplicationError, Invalid, NotFound, status_of
from stratus.reminders import services as reminder_services
from stratus.web.context import SignedInRequest, current_membership, memberships
from stratus.web.records import fields as record_fields
from stratus.web.records import timeline as record_timeline
from stratus.web.records.fields import KINDS, FieldSpec, RecordKind

RELATED_LIMIT = 50
# Reminder choices of a new task: minutes before its due time.
REMINDER_OFFSETS: tuple[tuple[str, Any], ...] = (
    ("", gettext_lazy("No reminder")),
    ("0", gettext_lazy("At the due time")),
    ("15", gettext_lazy("15 minutes before")),
    ("60", gettext_lazy("1 hour before")),
    ("1440", gettext_lazy("1 day before")),
)


# --- loading --------------------------------------------------------------------------------------


def _kind(name: str) -> RecordKind:
    return KINDS[name]


def _membership(request: SignedInRequest) -> Membership:
    return current_membership(request)


def _writer(request: SignedInRequest) -> Membership:
    """The membership of a write; viewers are refused whatever the page showed them."""
    membership = current_membership(request)
    if not membership.has_role(Role.MEMBER):
        raise PermissionDenied(_("Viewers cannot change records."))
    return membership


def _record(kind: RecordKind, org: Organization, pk: int) -> Any:
    try:
        return kind.get_one(org=org, pk=pk)
    except NotFound as missing:
        raise Http404(str(missing)) from None


@dataclass(frozen=True)
class _Target:
    """The record a request is about, with the membership that asks and the record's kind."""

    membership: Membership
    kind: RecordKind
    record: Any

    @property
    def org(self) -> Organization:
        return self.membership.organization


def _target(request: SignedInRequest, kind: str, pk: int, *, write: bool = False) -> _Target:
    """The record ``kind``/``pk`` of the signed-in user's organization (404 otherwise); for a
    write, viewers are refused first (403)."""
    membership = _writer(request) if write else _membership(request)
    record_kind = _kind(kind)
    return _Target(membership, record_kind, _record(record_kind, membership.organization, pk))


def _custom_specs(org: Organization, kind: RecordKind) -> list[FieldSpec]:
    return [
        record_fields.custom_spec(d) for d in crm_selectors.custom_field_list(org=org, entity=kind.entity)
    ]


def _specs(org: Organization, kind: RecordKind) -> tuple[list[FieldSpec], list[FieldSpec]]:
    return list(kind.fields), _custom_specs(org, kind)


def _spec(org: Organization, kind: RecordKind, name: str) -> FieldSpec:
    spec = kind.spec(name)
    if spec is None and name.startswith(record_fields.CUSTOM_PREFIX):
        spec = next((s for s in _custom_specs(org, kind) if s.name == name), None)
    if spec is None:
        raise Http404("No such field.")
    return spec


def _version(record: Any) -> str:
    return cast(datetime.datetime, record.updated_at).isoformat()


def _urls(kind: RecordKind, pk: int) -> dict[str, str]:
    prefix = f"web:{kind.name}"
    return {
        "page": reverse(f"{prefix}", args=[pk]),
        "main": reverse(f"{prefix}-main", args=[pk]),
        "timeline": reverse(f"{prefix}-timeline", args=[pk]),
        "activities": reverse(f"{prefix}-activities", args=[pk]),
        "documents": reverse(f"{prefix}-documents", args=[pk]),
        "upload_start": reverse(f"{prefix}-upload-start", args=[pk]),
        "delete": reverse(f"{prefix}-delete", args=[pk]),
        "list": f"/{kind.plural}",
    }


# --- context --------------------------------------------------------------------------------------


def _field_context(
    org: Organization,
    kind: RecordKind,
    record: Any,
    spec: FieldSpec,
    tags: list[str],
    *,
    editing: bool = False,
    can_edit: bool = False,
    typed: Any = None,
    errors: list[str] | None = None,
    version: str | None = None,
    notice: str = "",
) -> dict[str, Any]:
    field_url = reverse(f"web:{kind.name}-field", args=[record.pk, spec.name])
    context: dict[str, Any] = {
        "spec": spec,
        "dom_id": "field-" + spec.name.replace(".", "-").replace("_", "-"),
        "value": record_fields.display(record, spec, tags),
        "can_edit": can_edit,
        "editing": editing,
        "field_url": field_url,
        "edit_url": reverse(f"web:{kind.name}-field-edit", args=[record.pk, spec.name]),
        "save_url": reverse(f"web:{kind.name}-field-save", args=[record.pk, spec.name]),
        "page_url": reverse(f"web:{kind.name}", args=[record.pk]),
    }
    if editing:
        current = record_fields.edit_value(record, spec, tags)
        context.update(
            {
                "input_value": current if typed is None else typed,
                "selected": {str(v) for v in (current if typed is None else typed)}
                if spec.widget == "refs"
                else {str(current if typed is None else typed)},
                "options": record_fields.choices(org, record, spec),
                "errors": errors or [],
                "version": version or _version(record),
                "notice": notice,
                "lost_reason": getattr(record, "lost_reason", ""),
                "custom_choices": [],
            }
        )
        if spec.widget == "choice":
            definition = (
                crm_selectors.custom_field_list(org=org, entity=kind.entity)
                .filter(key=spec.name.removeprefix(record_fields.CUSTOM_PREFIX))
                .first()
            )
            context["custom_choices"] = list(definition.choices) if definition is not None else []
    return context


def _main_context(
    org: Organization, kind: RecordKind, record: Any, can_edit: bool, *, editing: str = ""
) -> dict[str, Any]:
    tags = crm_selectors.tag_names(record)
    specs, custom = _specs(org, kind)
    shown = {s.name: s for s in specs}
    return {
        "kind": kind,
        "record": record,
        "urls": _urls(kind, record.pk),
        "can_edit": can_edit,
        "header": [
            {"spec": shown[name], "value": record_fields.display(record, shown[name], tags)}
            for name in kind.header
        ],
        "fields": [
            _field_context(
                org, kind, record, s, tags, editing=s.name == editing and can_edit, can_edit=can_edit
            )
            for s in specs
            if s.widget != "refs"
        ],
        "custom": [
            _field_context(
                org, kind, record, s, tags, editing=s.name == editing and can_edit, can_edit=can_edit
            )
            for s in custom
        ],
        "live_record": f"{kind.name}:{record.pk}",
    }


def _labels(org: Organization, kind: RecordKind) -> dict[str, Any]:
    specs, custom = _specs(org, kind)
    return {s.name: s.label for s in [*specs, *custom]}


def _timeline_context(org: Organization, kind: RecordKind, record: Any, cursor: str | None) -> dict[str, Any]:
    entries, next_cursor = record_timeline.page(
        org=org, kind=kind, record=record, cursor=cursor, labels=_labels(org, kind)
    )
    return {
        "entries": entries,
        "next_cursor": next_cursor,
        "timeline_url": reverse(f"web:{kind.name}-timeline", args=[record.pk]),
    }


def _related(org: Organization, kind: RecordKind, record: Any) -> dict[str, Any]:
    related: dict[str, Any] = {}
    if kind.name == "contact":
        related["company"] = record.company
        deals = crm_selectors.deal_list(org=org, filters={"contact": str(record.pk)}).order_by(
            "-created_at", "-id"
        )
        related["deals"] = list(deals[:RELATED_LIMIT])
        related["deal_count"] = deals.count()
    elif kind.name == "company":
        contacts = crm_selectors.contact_list(org=org, filters={"company": str(record.pk)}).order_by(
            "last_name", "first_name", "id"
        )
        deals = crm_selectors.deal_list(org=org, filters={"company": str(record.pk)}).order_by(
            "-created_at", "-id"
        )
        related.update(
            contacts=list(contacts[:RELATED_LIMIT]),
            contact_count=contacts.count(),
            deals=list(deals[:RELATED_LIMIT]),
            deal_count=deals.count(),
        )
    else:
        related["company"] = record.company
        ids = crm_selectors.contact_ids(record)
        contacts = (
            crm_selectors.contact_list(org=org).filter(pk__in=ids).order_by("last_name", "first_name", "id")
        )
        related.update(contacts=list(contacts[:RELATED_LIMIT]), contact_count=len(ids))
    return related


def _documents_context(org: Organization, kind: RecordKind, record: Any, error: str = "") -> dict[str, Any]:
    return {
        "documents": list(document_selectors.document_list(org=org, target=record)[:RELATED_LIMIT]),
        "document_error": error,
        "inline_max": settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES,
        "upload_max": settings.DOCUMENTS_MAX_UPLOAD_BYTES,
    }


def _documents_panel(
    org: Organization, kind: RecordKind, record: Any, *, can_edit: bool, error: str = ""
) -> dict[str, Any]:
    """The documents panel's context as a fragment of its own (``_documents.html``)."""
    return {
        "kind": kind,
        "record": record,
        "urls": _urls(kind, record.pk),
        "can_edit": can_edit,
        "live_record": f"{kind.name}:{record.pk}",
        **_documents_context(org, kind, record, error),
    }


def _members(org: Organization) -> list[User]:
    return [membership.user for membership in account_selectors.member_choices(org=org)[:500]]


def _activity_context(
    org: Organization,
    request: SignedInRequest,
    *,
    form: str = "",
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str = "",
) -> dict[str, Any]:
    return {
        "activity_form": form,
        "typed": typed or {},
        "activity_errors": errors or {},
        "activity_message": message,
        "members": _members(org),
        "reminder_offsets": REMINDER_OFFSETS,
        "me": request.user.pk,
    }


def _shell(
    request: SignedInRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    membership = current_membership(request)
    return render(
        request,
        template,
        {
            "membership": membership,
            "organization": membership.organization,
            "memberships": memberships(request),
            "section": context["kind"].plural,
            **context,
        },
        status=status,
    )


def _page(
    request: SignedInRequest, kind: RecordKind, pk: int, *, status: int = 200, **extra: Any
) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    record = _record(kind, org, pk)
    can_edit = membership.has_role(Role.MEMBER)
    field = extra.pop("field", None)
    context = {
        **_main_context(org, kind, record, can_edit, editing=extra.pop("editing", "")),
        **_timeline_context(org, kind, record, request.GET.get("before")),
        **_documents_context(org, kind, record),
        **_activity_context(org, request),
        "related": _related(org, kind, record),
        **extra,
    }
    if field is not None:  # a refused field's form, with what was typed and the messages
        for group in ("fields", "custom"):
            context[group] = [field if f["spec"].name == field["spec"].name else f for f in context[group]]
    return _shell(request, "web/records/record.html", context, status=status)


# --- pages and fragments --------------------------------------------------------------------------


@require_GET
def record_page(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    editing = request.GET.get("edit", "")
    return _page(request, _kind(kind), pk, editing=editing)


@require_GET
def record_main(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """The header and fields (the fragment a live update re-renders)."""
    target = _target(request, kind, pk)
    context = _main_context(target.org, target.kind, target.record, target.membership.has_role(Role.MEMBER))
    return render(request, "web/records/_main.html", context)


@require_GET
def record_timeline_page(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    target = _target(request, kind, pk)
    if not request.htmx:
        return _page(request, target.kind, pk)
    context = _timeline_context(target.org, target.kind, target.record, request.GET.get("before"))
    return render(request, "web/records/_timeline_page.html", context)


def _field_fragment(target: _Target, spec: FieldSpec, **options: Any) -> dict[str, Any]:
    """One field's context (shown, or its edit form), for the ``_field.html`` fragment."""
    record = target.record
    return {
        "f": _field_context(target.org, target.kind, record, spec, crm_selectors.tag_names(record), **options)
    }


@require_GET
def field_show(request: SignedInRequest, kind: str, pk: int, field: str) -> HttpResponse:
    target = _target(request, kind, pk)
    spec = _spec(target.org, target.kind, field)
    if not request.htmx:
        return HttpResponseRedirect(reverse(f"web:{kind}", args=[pk]))
    can_edit = target.membership.has_role(Role.MEMBER)
    return render(request, "web/records/_field.html", _field_fragment(target, spec, can_edit=can_edit))


@require_GET
def field_edit(request: SignedInRequest, kind: str, pk: int, field: str) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    spec = _spec(target.org, target.kind, field)
    if not request.htmx:
        return _page(request, target.kind, pk, editing=spec.name)
    return render(
        request, "web/records/_field.html", _field_fragment(target, spec, editing=True, can_edit=True)
    )


def _typed(spec: FieldSpec, request: SignedInRequest) -> Any:
    """What the user typed, to put back into a refused form."""
    if spec.widget == "refs":
        return request.POST.getlist("value")
    return request.POST.get("value", "")


def _save_field(
    org: Organization, actor: User, kind: RecordKind, pk: int, spec: FieldSpec, request: SignedInRequest
) -> None:
    """Check the value with the API's serializer and save it through the crm service, with the
    version the form was opened on (the service refuses it when the record changed since; a form
    without one asks for no check). Raises ApplicationError (nothing saved)."""
    data = record_fields.payload(kind, spec, request.POST)
    checked = kind.write_serializer(data=data, partial=True)
    if not checked.is_valid():
        raise Invalid("Some fields are invalid.", field_errors=cast(dict[str, list[str]], checked.errors))
    opened = parse_datetime(request.POST.get("version", "")[:64])
    kind.update(org=org, actor=actor, **{kind.name: pk}, **checked.validated_data, expected_updated_at=opened)


STALE_NOTICE = gettext_lazy(
    "Someone else changed this record while you were editing. Its value now is the one shown below; "
    "save again to replace it with yours."
)


@require_POST
def field_save(request: SignedInRequest, kind: str, pk: int, field: str) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    org, record_kind = target.org, target.kind
    spec = _spec(org, record_kind, field)
    try:
        _save_field(org, request.user, record_kind, pk, spec, request)
    except ApplicationError as refused:
        stale = refused.code == CrmCode.STALE
        messages = [] if stale else record_fields.messages_of(refused.field_errors) or [refused.message]
        fresh = _target(request, kind, pk, write=True)
        context = _field_fragment(
            fresh,
            spec,
            editing=True,
            can_edit=True,
            typed=_typed(spec, request),
            errors=messages,
            # A stale form gets the new version: saving again knowingly replaces the colleague's value.
            version=_version(fresh.record) if stale else request.POST.get("version", ""),
            notice=str(STALE_NOTICE) if stale else "",
        )
        if not request.htmx:
            return _page(request, record_kind, pk, status=status_of(refused), field=context["f"])
        return render(request, "web/records/_field.html", context, status=status_of(refused))
    if not request.htmx:
        return HttpResponseRedirect(reverse(f"web:{kind}", args=[pk]) + f"#{spec.name}")
    record = _record(record_kind, org, pk)
    context = {
        **_main_context(org, record_kind, record, True),
        **_timeline_context(org, record_kind, record, None),
        "timeline_oob": True,
    }
    response = render(request, "web/records/_main.html", context)
    response["HX-Retarget"] = "#record-main"
    response["HX-Reswap"] = "outerHTML"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def record_delete(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    org, record_kind, record = target.org, target.kind, target.record
    if request.method != "POST":
        return _shell(
            request,
            "web/records/confirm_delete.html",
            {"kind": record_kind, "record": record, "urls": _urls(record_kind, pk)},
        )
    try:
        record_kind.delete(org=org, actor=request.user, **{record_kind.name: pk})
    except NotFound:
        raise Http404 from None
    listed = f"/{record_kind.plural}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = listed
        return response
    return HttpResponseRedirect(listed)


# --- activities -----------------------------------------------------------------------------------


def _moment(text: str, zone_name: str) -> datetime.datetime | str | None:
    """A ``datetime-local`` value in the browser's time zone (sent by the page), else the site's."""
    text = text.strip()
    if not text:
        return None
    moment = parse_datetime(text)
    if moment is None:
        return text  # the serializer names the problem
    if timezone.is_naive(moment):
        try:
            zone: datetime.tzinfo = (
                zoneinfo.ZoneInfo(zone_name) if zone_name else timezone.get_current_timezone()
            )
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = timezone.get_current_timezone()
        moment = moment.replace(tzinfo=zone)
    return moment


@require_POST
def activity_add(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """Add a note, log a call or meeting, or create a task (with an optional reminder)."""
    target = _target(request, kind, pk, write=True)
    org, record_kind, record = target.org, target.kind, target.record
    form = request.POST.get("form", "note")
    typed = {
        k: request.POST.get(k, "") for k in ("subject", "body", "due_at", "kind", "assignee", "reminder")
    }
    errors: dict[str, list[str]] = {}
    message = ""
    try:
        with transaction.atomic():
            _create_activity(org, request, record_kind, record, form, typed)
    except ApplicationError as refused:
        errors = {k: [str(m) for m in v] for k, v in refused.field_errors.items()}
        message = refused.message
        status = status_of(refused)
    else:
        typed, status, form = {}, 200, ""
    if not request.htmx:
        if status == 200:
            return HttpResponseRedirect(reverse(f"web:{kind}", args=[pk]) + "#timeline")
        return _page(
            request,
            record_kind,
            pk,
            status=status,
            **_activity_context(org, request, form=form, typed=typed, errors=errors, message=message),
        )
    context = {
        "kind": record_kind,
        "record": record,
        "urls": _urls(record_kind, pk),
        **_activity_context(org, request, form=form, typed=typed, errors=errors, message=message),
    }
    if status == 200:
        context.update(_timeline_context(org, record_kind, record, None), timeline_oob=True)
    return render(request, "web/records/_activities.html", context, status=status)


def _create_activity(
    org: Organization,
    request: SignedInRequest,
    kind: RecordKind,
    record: Any,
    form: str,
    typed: dict[str, str],
) -> None:
    zone = request.POST.get("tz", "")
    data: dict[str, Any] = {kind.name: record.pk, "body": typed["body"]}
    if form == "note":
        body = typed["body"].strip()
        first_line = body.splitlines()[0] if body else ""
        data.update(kind=ActivityKind.NOTE, subject=first_line[:200] or typed["body"])
        if not body:
            raise Invalid(_("Write the note first."), field_errors={"body": [_("Write the note first.")]})
    elif form == "log":
        data.update(kind=typed["kind"] or ActivityKind.CALL, subject=typed["subject"], done=True)
        if typed["kind"] not in (ActivityKind.CALL, ActivityKind.MEETING):
            raise Invalid(
                _("Choose a call or a meeting."), field_errors={"kind": [_("Choose a call or a meeting.")]}
            )
        when = _moment(typed["due_at"], zone)
        data["due_at"] = when.isoformat() if isinstance(when, datetime.datetime) else when
    else:
        data.update(kind=ActivityKind.TASK, subject=typed["subject"])
        when = _moment(typed["due_at"], zone)
        data["due_at"] = when.isoformat() if isinstance(when, datetime.datetime) else when
        assignee = typed["assignee"].strip()
        data["assignee"] = int(assignee) if assignee.isdigit() and len(assignee) < 19 else (assignee or None)
    data = {k: v for k, v in data.items() if v is not None or k in ("assignee",)}
    checked = ActivityWriteSerializer(data=data)
    if not checked.is_valid():
        raise Invalid(_("Some fields are invalid."), field_errors=cast(dict[str, list[str]], checked.errors))
    activity = crm_services.activity_create(org=org, actor=request.user, **checked.validated_data)
    offset = typed["reminder"].strip()
    if form == "task" and offset:
        if activity.due_at is None:
            raise Invalid(
                _("A reminder needs a due time."),
                field_errors={"reminder": [_("Give the task a due time first.")]},
            )
        if not offset.isdigit() or int(offset) > 10_080:
            raise Invalid(
                _("Choose a reminder from the list."),
                field_errors={"reminder": [_("Choose a reminder from the list.")]},
            )
        reminder_services.reminder_create(
            org=org, actor=request.user, activity=activity, offset=datetime.timedelta(minutes=int(offset))
        )


# --- documents ------------------------------------------------------------------------------------


def _document(org: Organization, record: Any, document_id: int) -> Document:
    try:
        document = document_selectors.document_get(org=org, document_id=document_id)
    except NotFound:
        raise Http404 from None
    if document.target != record:
        raise Http404
    return document


def _documents_response(
    request: SignedInRequest,
    org: Organization,
    kind: RecordKind,
    record: Any,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    if not request.htmx and request.headers.get("X-Requested-With") != "XMLHttpRequest":
        if status == 200:
            return HttpResponseRedirect(reverse(f"web:{kind.name}", args=[record.pk]) + "#documents")
        return _page(request, kind, record.pk, status=status, **_documents_context(org, kind, record, error))
    context = _documents_panel(org, kind, record, can_edit=True, error=error)
    if status == 200:
        context.update(_timeline_context(org, kind, record, None), timeline_oob=True)
    return render(request, "web/records/_documents.html", context, status=status)


def _document_write(request: SignedInRequest, target: _Target, write: Callable[[], object]) -> HttpResponse:
    """Run a documents service for ``target``; the panel again, with the refusal's message if any."""
    try:
        write()
    except ApplicationError as refused:
        return _documents_response(
            request, target.org, target.kind, target.record, error=refused.message, status=status_of(refused)
        )
    return _documents_response(request, target.org, target.kind, target.record)


@require_http_methods(["GET", "POST"])
def documents(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """GET: the documents panel (fetched again when a live event says one of this record's
    documents changed: uploaded, renamed, deleted, its text read or found not searchable);
    POST: a file sent through this page."""
    if request.method == "POST":
        return document_upload(request, kind, pk)
    target = _target(request, kind, pk)
    if not request.htmx:
        return HttpResponseRedirect(reverse(f"web:{target.kind.name}", args=[pk]) + "#documents")
    context = _documents_panel(
        target.org, target.kind, target.record, can_edit=target.membership.has_role(Role.MEMBER)
    )
    return render(request, "web/records/_documents.html", context)


def document_upload(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """A file sent through this page (up to the inline limit; bigger ones go straight to storage)."""
    target = _target(request, kind, pk, write=True)

    def upload() -> object:
        sent = request.FILES.get("file")
        if sent is None:
            raise Invalid(_("Choose a file."), field_errors={"file": [_("Choose a file.")]})
        return document_services.document_upload(
            org=target.org, actor=request.user, target=target.record, file=sent
        )

    return _document_write(request, target, upload)


@require_POST
def document_upload_start(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """Start a direct-to-storage upload: where the browser sends the bytes, then the finish URL."""
    target = _target(request, kind, pk, write=True)
    size_text = request.POST.get("size", "")
    try:
        if not size_text.isdigit() or len(size_text) > 18:
            raise Invalid(
                _("The file size is missing."), field_errors={"size": [_("Must be a number of bytes.")]}
            )
        started = document_services.document_upload_start(
            org=target.org,
            actor=request.user,
            target=target.record,
            name=request.POST.get("name", "")[:1000],
            size=int(size_text),
            content_type=request.POST.get("content_type", "")[:100],
            sha256=request.POST.get("sha256", "")[:64],
        )
    except ApplicationError as refused:
        return JsonResponse({"error": refused.message}, status=status_of(refused))
    return JsonResponse(
        {
            "upload": {"url": started.upload.url, "fields": started.upload.fields, "file_field": "file"},
            "finish_url": reverse(f"web:{kind}-upload-finish", args=[pk, started.document.pk]),
        },
        status=201,
    )


@require_POST
def document_upload_finish(request: SignedInRequest, kind: str, pk: int, document_id: int) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    try:
        pending = document_selectors.document_get(
            org=target.org, document_id=document_id, include_pending=True
        )
    except NotFound:
        raise Http404 from None
    if pending.target != target.record:
        raise Http404
    return _document_write(
        request,
        target,
        lambda: document_services.document_upload_finish(
            org=target.org, actor=request.user, document_id=document_id
        ),
    )


@require_POST
def document_rename(request: SignedInRequest, kind: str, pk: int, document_id: int) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    document = _document(target.org, target.record, document_id)
    name = request.POST.get("name", "")[:1000]
    return _document_write(
        request,
        target,
        lambda: document_services.document_rename(
            org=target.org, actor=request.user, document=document, name=name
        ),
    )


@require_POST
def document_delete(request: SignedInRequest, kind: str, pk: int, document_id: int) -> HttpResponse:
    target = _target(request, kind, pk, write=True)
    document = _document(target.org, target.record, document_id)
    return _document_write(
        request,
        target,
        lambda: document_services.document_delete(org=target.org, actor=request.user, document=document),
    )


@require_GET
def document_download(request: SignedInRequest, kind: str, pk: int, document_id: int) -> HttpResponse:
    """A short-lived download address from the storage (a presigned URL, or the local stand-in);
    ``?view=1`` opens a PDF in the browser (a search result's ``#page=N`` is kept across the
    redirect), any other type still downloads."""
    target = _target(request, kind, pk)
    document = _document(target.org, target.record, document_id)
    url = document_store().download_url(
        document.key,
        filename=document.name,
        content_type=document.content_type,
        expires=settings.AWS_QUERYSTRING_EXPIRE,
        inline=request.GET.get("view") == "1",
    )
    return HttpResponseRedirect(url)
