"""Settings pages (admins): members, API tokens, custom fields, pipelines and stages, tags,
exchange rates.

Every change goes through the service the API calls (``stratus.accounts.services``,
``stratus.crm.services``, ``stratus.crm.tags``, ``stratus.reports.services``), under the same
rules: who may write is the API's permission (``ReadViewerWriteAdmin``, ``AdminOnly``), who may
grant which role is ``stratus.accounts.roles``. Members and viewers read the pages without edit
controls; their writes are refused (403). A record id of another organization is a 404. A
refused form is shown again with what was typed and each message beside its field; nothing is
half saved (each service runs in one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from stratus.accounts import selectors as account_selectors
from stratus.accounts import services as account_services
from stratus.accounts.models import Membership, Role
from stratus.api.permissions import AdminOnly, ReadViewerWriteAdmin
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm import tags as crm_tags
from stratus.crm.models import CustomFieldType, Pipeline, Stage
from stratus.platform.errors import ApplicationError, NotFound, status_of
from stratus.reports import selectors as report_selectors
from stratus.reports import services as report_services
from stratus.web.context import SignedInRequest, current_membership, memberships
from stratus.web.settings import forms

WRITE_ROLE = ReadViewerWriteAdmin.write_role  # configuration: the API's rule, not a copy
TOKENS_ROLE = AdminOnly.read_role  # credentials: hidden from members and viewers

T = TypeVar("T")
Page = Callable[..., HttpResponse]  # a settings page: (request, status, **forms given) -> response

TABS = (
    ("members", "web:settings-members"),
    ("tokens", "web:settings-tokens"),
    ("fields", "web:settings-fields"),
    ("pipelines", "web:settings-pipelines"),
    ("tags", "web:settings-tags"),
    ("rates", "web:settings-rates"),
)


class Refused(Exception):
    """A write the service refused; ``status`` is the HTTP status of the page shown again."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _admin(request: SignedInRequest) -> Membership:
    """The acting membership, if it may change settings; 403 otherwise (the server refuses)."""
    membership = current_membership(request)
    if not membership.has_role(WRITE_ROLE):
        raise PermissionDenied(_("Only admins and owners can change settings."))
    return membership


def _apply(form: forms.SettingsForm, change: Callable[[], Any]) -> Any:
    """Run a service call for ``form``; a refusal goes on the form and raises ``Refused``."""
    try:
        return change()
    except NotFound:
        raise Http404 from None
    except ObjectDoesNotExist:
        raise Http404 from None
    except ApplicationError as error:
        form.refuse(error)
        raise Refused(status_of(error)) from None
    except PermissionDenied as error:
        form.refuse(str(error) or _("Your role cannot do this."))
        raise Refused(403) from None


def _submit(
    request: SignedInRequest, form: forms.SettingsForm, change: Callable[[], Any], *, page: Page, slot: str
) -> tuple[Any, HttpResponse | None]:
    """Check ``form`` and make ``change`` (a service call): the service's answer and None, or, when
    the form or the service refuses, None and the ``page`` again with ``form`` in its ``slot``
    (400 for the form, the refusal's status for the service)."""
    if not form.is_valid():
        return None, page(request, 400, **{slot: form})
    try:
        return _apply(form, change), None
    except Refused as refused:
        return None, page(request, refused.status, **{slot: form})


def _save(
    request: SignedInRequest,
    form: forms.SettingsForm,
    change: Callable[[], Any],
    *,
    page: Page,
    slot: str = "refused",
    done: str | None,
    then: str,
) -> HttpResponse:
    """``_submit``; once saved, the message ``done`` (if any) and back to the page ``then``."""
    _answer, shown = _submit(request, form, change, page=page, slot=slot)
    if shown is not None:
        return shown
    if done:
        messages.success(request, done)
    return redirect(then)


def _found(read: Callable[[], T]) -> T:
    """What a selector reads for the acting organization; 404 when it is not there."""
    try:
        return read()
    except ApplicationError:
        raise Http404 from None


def _page(request: SignedInRequest, tab: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    membership = current_membership(request)
    for value in context.values():
        if isinstance(value, forms.SettingsForm):
            value.mark_errors()
    return render(
        request,
        f"web/settings/{tab}.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "memberships": memberships(request),
            "section": "settings",
            "tab": tab,
            "tabs": TABS,
            "can_edit": membership.has_role(Role.MEMBER),
            "can_configure": membership.has_role(WRITE_ROLE),
            **context,
        },
        status=status,
    )


@require_GET
@login_required
def settings_home(request: SignedInRequest) -> HttpResponse:
    return redirect("web:settings-members")


# --- members ----------------------------------------------------------------------------------


def _members_page(request: SignedInRequest, status: int = 200, **forms_given: Any) -> HttpResponse:
    membership = current_membership(request)
    org = membership.organization
    members = list(account_selectors.members_of(org=org))
    role_forms = {
        m.pk: forms_given.get(f"role_{m.pk}") or forms.RoleForm(prefix=f"m{m.pk}", initial={"role": m.role})
        for m in members
    }
    admin = membership.has_role(WRITE_ROLE)
    return _page(
        request,
        "members",
        {
            "rows": [(m, role_forms[m.pk]) for m in members],
            "invitations": list(account_selectors.pending_invitations_of(org=org)) if admin else [],
            "invite_form": forms_given.get("invite_form") or forms.InviteForm(prefix="invite"),
            "refused": forms_given.get("refused"),
        },
        status,
    )


@require_GET
@login_required
def members(request: SignedInRequest) -> HttpResponse:
    return _members_page(request)


@require_POST
@login_required
def member_invite(request: SignedInRequest) -> HttpResponse:
    membership = _admin(request)
    form = forms.InviteForm(request.POST, prefix="invite")
    issued, shown = _submit(
        request,
        form,
        lambda: account_services.invitation_create(
            org=membership.organization, actor=request.user, **form.cleaned_data
        ),
        page=_members_page,
        slot="invite_form",
    )
    if shown is not None:
        return shown
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": issued.invitation.email})
    return redirect("web:settings-members")


@require_POST
@login_required
def member_role(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    _found(lambda: account_selectors.member_get(org=membership.organization, membership_id=pk))
    form = forms.RoleForm(request.POST, prefix=f"m{pk}")
    return _save(
        request,
        form,
        lambda: account_services.member_update(
            org=membership.organization, actor=request.user, membership_id=pk, role=form.cleaned_data["role"]
        ),
        page=_members_page,
        slot=f"role_{pk}",
        done=_("Role changed."),
        then="web:settings-members",
    )


@require_POST
@login_required
def member_remove(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: account_services.member_remove(
            org=membership.organization, actor=request.user, membership_id=pk
        ),
        page=_members_page,
        done=_("Member removed."),
        then="web:home" if pk == membership.pk else "web:settings-members",  # removing yourself is leaving
    )


@require_POST
@login_required
def invitation_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: account_services.invitation_revoke(
            org=membership.organization, actor=request.user, invitation_id=pk
        ),
        page=_members_page,
        done=_("Invitation revoked."),
        then="web:settings-members",
    )


# --- API tokens -------------------------------------------------------------------------------


def _tokens_page(request: SignedInRequest, status: int = 200, **extra: Any) -> HttpResponse:
    membership = current_membership(request)
    allowed = membership.has_role(TOKENS_ROLE)
    return _page(
        request,
        "tokens",
        {
            "can_see_tokens": allowed,
            "tokens": list(account_selectors.live_tokens_of(org=membership.organization)) if allowed else [],
            "token_form": extra.get("token_form") or forms.TokenForm(prefix="token"),
            "issued": extra.get("issued"),
            "refused": extra.get("refused"),
        },
        status,
    )


@require_GET
@login_required
def tokens(request: SignedInRequest) -> HttpResponse:
    return _tokens_page(request)


@require_POST
@login_required
def token_create(request: SignedInRequest) -> HttpResponse:
    membership = _admin(request)
    form = forms.TokenForm(request.POST, prefix="token")
    issued, shown = _submit(
        request,
        form,
        lambda: account_services.token_create(
            org=membership.organization, actor=request.user, **form.cleaned_data
        ),
        page=_tokens_page,
        slot="token_form",
    )
    if shown is not None:
        return shown
    # The secret is shown in this answer only (no redirect, nothing stored but its hash).
    response = _tokens_page(request, 201, issued=issued)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def token_revoke(request: SignedInRequest, pk: uuid.UUID) -> HttpResponse:
    membership = _admin(request)
    _found(lambda: account_selectors.token_get(org=membership.organization, token_id=pk))
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: account_services.token_revoke(org=membership.organization, actor=request.user, token_id=pk),
        page=_tokens_page,
        done=_("Token revoked: it stops working at once."),
        then="web:settings-tokens",
    )


# --- custom fields ----------------------------------------------------------------------------


def _fields_page(request: SignedInRequest, status: int = 200, **given: Any) -> HttpResponse:
    org = current_membership(request).organization
    fields = list(crm_selectors.custom_field_list(org=org))
    rows = []
    for field in fields:
        form = given.get(f"field_{field.pk}") or forms.CustomFieldUpdateForm(
            prefix=f"f{field.pk}",
            initial={"label": field.label, "required": field.required, "choices": "\n".join(field.choices)},
        )
        rows.append((field, form))
    return _page(
        request,
        "fields",
        {
            "rows": rows,
            "field_form": given.get("field_form") or forms.CustomFieldForm(prefix="field"),
            "refused": given.get("refused"),
        },
        status,
    )


@require_GET
@login_required
def custom_fields(request: SignedInRequest) -> HttpResponse:
    return _fields_page(request)


@require_POST
@login_required
def custom_field_create(request: SignedInRequest) -> HttpResponse:
    membership = _admin(request)
    form = forms.CustomFieldForm(request.POST, prefix="field")
    return _save(
        request,
        form,
        lambda: crm_services.custom_field_create(
            org=membership.organization, actor=request.user, **form.cleaned_data
        ),
        page=_fields_page,
        slot="field_form",
        done=_("Custom field added."),
        then="web:settings-fields",
    )


@require_POST
@login_required
def custom_field_update(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    field = _found(lambda: crm_selectors.custom_field_get(org=membership.organization, pk=pk))
    form = forms.CustomFieldUpdateForm(request.POST, prefix=f"f{pk}")

    def values() -> dict[str, Any]:
        given = dict(form.cleaned_data)
        if field.field_type != CustomFieldType.CHOICE:
            given.pop("choices")  # only a choice field has choices
        return given

    return _save(
        request,
        form,
        lambda: crm_services.custom_field_update(
            org=membership.organization, actor=request.user, field=field.pk, **values()
        ),
        page=_fields_page,
        slot=f"field_{pk}",
        done=_("Custom field saved."),
        then="web:settings-fields",
    )


@require_POST
@login_required
def custom_field_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    field = _found(lambda: crm_selectors.custom_field_get(org=membership.organization, pk=pk))
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: crm_services.custom_field_delete(
            org=membership.organization, actor=request.user, field=field.pk
        ),
        page=_fields_page,
        done=_("Custom field deleted, with its values."),
        then="web:settings-fields",
    )


# --- pipelines and stages ---------------------------------------------------------------------


def _pipelines_page(request: SignedInRequest, status: int = 200, **given: Any) -> HttpResponse:
    org = current_membership(request).organization
    pipelines = []
    for pipeline in crm_selectors.pipeline_list(org=org):
        stages = [
            (
                stage,
                given.get(f"stage_{stage.pk}")
                or forms.StageForm(
                    prefix=f"s{stage.pk}",
                    initial={"name": stage.name, "probability": stage.probability, "kind": stage.kind},
                ),
            )
            for stage in pipeline.stages.all()
        ]
        pipelines.append(
            {
                "pipeline": pipeline,
                "rename_form": given.get(f"pipeline_{pipeline.pk}")
                or forms.PipelineForm(prefix=f"p{pipeline.pk}", initial={"name": pipeline.name}),
                "stage_form": given.get(f"new_stage_{pipeline.pk}")
                or forms.StageForm(prefix=f"n{pipeline.pk}"),
                "stages": stages,
            }
        )
    return _page(
        request,
        "pipelines",
        {
            "pipelines": pipelines,
            "pipeline_form": given.get("pipeline_form") or forms.PipelineForm(prefix="pipeline"),
            "refused": given.get("refused"),
        },
        status,
    )


@require_GET
@login_required
def pipelines(request: SignedInRequest) -> HttpResponse:
    return _pipelines_page(request)


@require_POST
@login_required
def pipeline_create(request: SignedInRequest) -> HttpResponse:
    membership = _admin(request)
    form = forms.PipelineForm(request.POST, prefix="pipeline")
    return _save(
        request,
        form,
        lambda: crm_services.pipeline_create(
            org=membership.organization, actor=request.user, **form.cleaned_data
        ),
        page=_pipelines_page,
        slot="pipeline_form",
        done=_("Pipeline added."),
        then="web:settings-pipelines",
    )


def _pipeline_or_404(membership: Membership, pk: int) -> Pipeline:
    return _found(lambda: crm_selectors.pipeline_get(org=membership.organization, pk=pk))


def _stage_or_404(membership: Membership, pk: int) -> Stage:
    return _found(lambda: crm_selectors.stage_get(org=membership.organization, pk=pk))


@require_POST
@login_required
def pipeline_rename(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.PipelineForm(request.POST, prefix=f"p{pk}")
    return _save(
        request,
        form,
        lambda: crm_services.pipeline_update(
            org=membership.organization, actor=request.user, pipeline=pipeline.pk, **form.cleaned_data
        ),
        page=_pipelines_page,
        slot=f"pipeline_{pk}",
        done=_("Pipeline renamed."),
        then="web:settings-pipelines",
    )


@require_POST
@login_required
def pipeline_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: crm_services.pipeline_delete(
            org=membership.organization, actor=request.user, pipeline=pipeline.pk
        ),
        page=_pipelines_page,
        done=_("Pipeline deleted."),
        then="web:settings-pipelines",
    )


@require_POST
@login_required
def stage_create(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.StageForm(request.POST, prefix=f"n{pk}")
    return _save(
        request,
        form,
        lambda: crm_services.stage_create(
            org=membership.organization, actor=request.user, pipeline=pipeline.pk, **form.values()
        ),
        page=_pipelines_page,
        slot=f"new_stage_{pk}",
        done=_("Stage added."),
        then="web:settings-pipelines",
    )


@require_POST
@login_required
def stage_update(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.StageForm(request.POST, prefix=f"s{pk}")
    return _save(
        request,
        form,
        lambda: crm_services.stage_update(
            org=membership.organization, actor=request.user, stage=stage.pk, **form.values()
        ),
        page=_pipelines_page,
        slot=f"stage_{pk}",
        done=_("Stage saved."),
        then="web:settings-pipelines",
    )


@require_POST
@login_required
def stage_position(request: SignedInRequest, pk: int) -> HttpResponse:
    """Move a stage up or down (the keyboard and no-script way to reorder)."""
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.PositionForm(request.POST)
    return _save(
        request,
        form,
        lambda: crm_services.stage_update(
            org=membership.organization, actor=request.user, stage=stage.pk, **form.cleaned_data
        ),
        page=_pipelines_page,
        done=None,
        then="web:settings-pipelines",
    )


@require_POST
@login_required
def stages_reorder(request: SignedInRequest, pk: int) -> HttpResponse:
    """The order of every stage of a pipeline at once (what dragging a stage sends)."""
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.StageOrderForm(request.POST)
    _answer, shown = _submit(
        request,
        form,
        lambda: crm_services.stages_reorder(
            org=membership.organization, actor=request.user, pipeline=pipeline.pk, **form.cleaned_data
        ),
        page=_pipelines_page,
        slot="refused",
    )
    if shown is not None:
        return shown
    if request.htmx:
        return _pipelines_page(request)
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stage_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.StageDeleteForm(request.POST)
    return _save(
        request,
        form,
        lambda: crm_services.stage_delete(
            org=membership.organization,
            actor=request.user,
            stage=stage.pk,
            move_deals_to=form.cleaned_data.get("move_deals_to"),
        ),
        page=_pipelines_page,
        done=_("Stage deleted."),
        then="web:settings-pipelines",
    )


# --- tags -------------------------------------------------------------------------------------


def _tags_page(request: SignedInRequest, status: int = 200, **given: Any) -> HttpResponse:
    org = current_membership(request).organization
    rows = [
        (tag, given.get(f"tag_{tag.pk}") or forms.TagForm(prefix=f"t{tag.pk}", initial={"name": tag.name}))
        for tag in crm_selectors.tag_list(org=org)
    ]
    return _page(request, "tags", {"rows": rows, "refused": given.get("refused")}, status)


@require_GET
@login_required
def tags(request: SignedInRequest) -> HttpResponse:
    return _tags_page(request)


@require_POST
@login_required
def tag_rename(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    _found(lambda: crm_selectors.tag_get(org=membership.organization, pk=pk))
    form = forms.TagForm(request.POST, prefix=f"t{pk}")
    return _save(
        request,
        form,
        lambda: crm_tags.tag_rename(
            org=membership.organization, actor=request.user, tag=pk, **form.cleaned_data
        ),
        page=_tags_page,
        slot=f"tag_{pk}",
        done=_("Tag renamed."),
        then="web:settings-tags",
    )


@require_POST
@login_required
def tag_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: crm_tags.tag_delete(org=membership.organization, actor=request.user, tag=pk),
        page=_tags_page,
        done=_("Tag deleted."),
        then="web:settings-tags",
    )


# --- exchange rates -------------------------------------------------------------------------------


def _rates_page(request: SignedInRequest, status: int = 200, **given: Any) -> HttpResponse:
    org = current_membership(request).organization
    rows = [
        (
            rate,
            given.get(f"rate_{rate.pk}")
            or forms.ExchangeRateForm(
                prefix=f"r{rate.pk}",
                initial={
                    "currency": rate.currency,
                    "currency_to": rate.currency_to,
                    "rate": rate.rate.normalize(),
                    "valid_from": rate.valid_from,
                },
            ),
        )
        for rate in report_selectors.exchange_rate_list(org=org)
    ]
    return _page(
        request,
        "rates",
        {
            "rows": rows,
            "rate_form": given.get("rate_form") or forms.ExchangeRateForm(prefix="rate"),
            "refused": given.get("refused"),
        },
        status,
    )


@require_GET
@login_required
def rates(request: SignedInRequest) -> HttpResponse:
    return _rates_page(request)


@require_POST
@login_required
def rate_create(request: SignedInRequest) -> HttpResponse:
    membership = _admin(request)
    form = forms.ExchangeRateForm(request.POST, prefix="rate")
    return _save(
        request,
        form,
        lambda: report_services.exchange_rate_create(
            org=membership.organization, actor=request.user, **form.cleaned_data
        ),
        page=_rates_page,
        slot="rate_form",
        done=_("Exchange rate added."),
        then="web:settings-rates",
    )


@require_POST
@login_required
def rate_update(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    _found(lambda: report_selectors.exchange_rate_get(org=membership.organization, pk=pk))
    form = forms.ExchangeRateForm(request.POST, prefix=f"r{pk}")
    return _save(
        request,
        form,
        lambda: report_services.exchange_rate_update(
            org=membership.organization, actor=request.user, pk=pk, **form.cleaned_data
        ),
        page=_rates_page,
        slot=f"rate_{pk}",
        done=_("Exchange rate saved."),
        then="web:settings-rates",
    )


@require_POST
@login_required
def rate_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    _found(lambda: report_selectors.exchange_rate_get(org=membership.organization, pk=pk))
    return _save(
        request,
        forms.SettingsForm(request.POST),
        lambda: report_services.exchange_rate_delete(org=membership.organization, actor=request.user, pk=pk),
        page=_rates_page,
        done=_("Exchange rate deleted."),
        then="web:settings-rates",
    )
