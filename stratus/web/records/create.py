"""Creation pages: /contacts/new, /companies/new, /deals/new.

The form shows the same fields as the record page's inline editors (``fields.py``: field
descriptions, widgets, choices and custom fields). Each field's value is read the way an inline
save reads it, checked by the API's write serializer and given to the crm create service with
keyword arguments named like the serializer's fields. A refused form keeps what was typed and
shows each field's messages beside it (400 or the service's status); nothing is saved. Viewers
are refused (403) by the same rule as the inline edits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from stratus.accounts.models import Organization
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.platform.errors import ApplicationError, Invalid, status_of
from stratus.web.context import SignedInRequest
from stratus.web.records import fields as record_fields
from stratus.web.records.fields import CUSTOM_PREFIX, FieldSpec, RecordKind
from stratus.web.records.views import _custom_specs, _kind, _shell, _writer

CREATORS: dict[str, Callable[..., Any]] = {
    "contact": crm_services.contact_create,
    "company": crm_services.company_create,
    "deal": crm_services.deal_create,
}


def _dom_id(spec: FieldSpec) -> str:
    return "new-" + spec.name.replace(".", "-").replace("_", "-")


def _one_field(spec: FieldSpec, form: QueryDict) -> QueryDict:
    """The form of one field as its inline editor would send it (``value``)."""
    single = QueryDict(mutable=True)
    single.setlist("value", form.getlist(spec.name))
    return single


def _payload(specs: list[FieldSpec], form: QueryDict) -> dict[str, Any]:
    """The create service's keyword arguments (before the serializer's check); empty fields are
    left out so the serializer's defaults apply."""
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for spec in specs:
        value = record_fields.form_value(spec, _one_field(spec, form))
        if value is None or value == "" or value == []:
            continue
        if spec.name.startswith(CUSTOM_PREFIX):
            custom[spec.name.removeprefix(CUSTOM_PREFIX)] = value
        else:
            data[spec.name] = value
    if custom:
        data["custom_fields"] = custom
    return data


def _errors_by_field(errors: Mapping[str, Any], names: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Messages per shown field, and the others (shown above the form)."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for key, value in errors.items():
        if key == "custom_fields" and isinstance(value, Mapping):
            for custom_key, custom_value in value.items():
                name = CUSTOM_PREFIX + str(custom_key)
                messages = record_fields.messages_of({custom_key: custom_value})
                if name in names:
                    by_field.setdefault(name, []).extend(messages)
                else:
                    other.extend(messages)
        elif key in names:
            by_field.setdefault(key, []).extend(record_fields.messages_of({key: value}))
        else:
            other.extend(record_fields.messages_of({key: value}))
    return by_field, other


def _stage_groups(org: Organization) -> tuple[list[tuple[str, list[tuple[int, str]]]], str]:
    """The stages of every pipeline, grouped, and the default pipeline's first stage."""
    groups: list[tuple[str, list[tuple[int, str]]]] = []
    first = ""
    for pipeline in crm_selectors.pipeline_list(org=org):  # its stages come by position
        options = [(stage.pk, stage.name) for stage in pipeline.stages.all()]
        groups.append((pipeline.name, options))
        if options and (pipeline.is_default or not first):
            first = str(options[0][0])
    return groups, first


def _form_fields(
    org: Organization,
    kind: RecordKind,
    specs: list[FieldSpec],
    form: QueryDict | None,
    errors: dict[str, list[str]],
) -> list[dict[str, Any]]:
    blank = kind.model(organization=org)
    definitions = {d.key: d for d in crm_selectors.custom_field_list(org=org, entity=kind.entity)}
    stage_groups: list[tuple[str, list[tuple[int, str]]]] = []
    first_stage = ""
    if any(s.name == "stage" for s in specs):
        stage_groups, first_stage = _stage_groups(org)
    shown = []
    for spec in specs:
        typed = form.getlist(spec.name) if form is not None else []
        if form is None and spec.name == "stage":
            typed = [first_stage]
        options: list[tuple[Any, str]] = []
        if spec.name == "contacts":
            contacts = crm_selectors.contact_choices(org=org)[: record_fields.CHOICES_LIMIT]
            options = [(c.pk, str(c)) for c in contacts]
        elif spec.widget in ("ref", "refs") and spec.name != "stage":
            options = record_fields.choices(org, blank, spec)
        definition = definitions.get(spec.name.removeprefix(CUSTOM_PREFIX))
        shown.append(
            {
                "spec": spec,
                "dom_id": _dom_id(spec),
                "input_value": typed[0] if typed else "",
                "selected": {str(v) for v in typed},
                "options": options,
                "stage_groups": stage_groups if spec.name == "stage" else [],
                "custom_choices": list(definition.choices)
                if spec.widget == "choice" and definition is not None
                else [],
                "errors": errors.get(spec.name, []),
            }
        )
    return shown


def _render(
    request: SignedInRequest,
    org: Organization,
    kind: RecordKind,
    specs: list[FieldSpec],
    *,
    form: QueryDict | None = None,
    errors: dict[str, list[str]] | None = None,
    messages: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    return _shell(
        request,
        "web/records/new.html",
        {
            "kind": kind,
            "form_fields": _form_fields(org, kind, specs, form, errors or {}),
            "form_messages": messages or [],
            "action": reverse(f"web:{kind.name}-new"),
            "list_url": f"/{kind.plural}",
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def record_new(request: SignedInRequest, kind: str) -> HttpResponse:
    membership = _writer(request)
    record_kind = _kind(kind)
    org = membership.organization
    specs = [*record_kind.fields, *_custom_specs(org, record_kind)]
    if request.method != "POST":
        return _render(request, org, record_kind, specs)
    names = {s.name for s in specs}
    checked = record_kind.write_serializer(data=_payload(specs, request.POST))
    try:
        if not checked.is_valid():
            raise Invalid("Some fields are invalid.", field_errors=cast(dict[str, list[str]], checked.errors))
        record = CREATORS[record_kind.name](org=org, actor=request.user, **checked.validated_data)
    except ApplicationError as refused:
        by_field, other = _errors_by_field(refused.field_errors or {}, names)
        if not by_field and not other:
            other = [refused.message]
        return _render(
            request,
            org,
            record_kind,
            specs,
            form=request.POST,
            errors=by_field,
            messages=other,
            status=status_of(refused),
        )
    return HttpResponseRedirect(reverse(f"web:{record_kind.name}", args=[record.pk]))
