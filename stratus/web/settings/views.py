"""Settings pages (admins): members, API tokens, custom fields, pipelines and stages, tags.

Every change goes through the service the API calls (``stratus.accounts.services``,
``stratus.crm.services``, ``stratus.crm.tags``), under the same rules: who may write is the
API's permission (``ReadViewerWriteAdmin``, ``AdminOnly``), who may grant which role is
``stratus.accounts.roles``. Members and viewers read the pages without edit controls; their
writes are refused (403). A record id of another organization is a 404. A refused form is shown
again with what was typed and each message beside its field; nothing is half saved (each
service runs in one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

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
from stratus.crm.models import CustomFieldType
from stratus.platform.errors import ApplicationError, NotFound, status_of
from stratus.web.context import SignedInRequest, current_membership, memberships
from stratus.web.settings import forms

WRITE_ROLE = ReadViewerWriteAdmin.write_role  # configuration: the API's rule, not a copy
TOKENS_ROLE = AdminOnly.read_role  # credentials: hidden from members and viewers

TABS = (
    ("members", "web:settings-members"),
    ("tokens", "web:settings-tokens"),
    ("fields", "web:settings-fields"),
    ("pipelines", "web:settings-pipelines"),
    ("tags", "web:settings-tags"),
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
    if not form.is_valid():
        return _members_page(request, 400, invite_form=form)
    try:
        issued = _apply(
            form,
            lambda: account_services.invitation_create(
                org=membership.organization,
                actor=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            ),
        )
    except Refused as refused:
        return _members_page(request, refused.status, invite_form=form)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": issued.invitation.email})
    return redirect("web:settings-members")


@require_POST
@login_required
def member_role(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    form = forms.RoleForm(request.POST, prefix=f"m{pk}")
    if not form.is_valid():
        _member_or_404(membership, pk)
        return _members_page(request, 400, **{f"role_{pk}": form})
    try:
        _apply(
            form,
            lambda: account_services.member_update(
                org=membership.organization,
                actor=request.user,
                membership_id=pk,
                role=form.cleaned_data["role"],
            ),
        )
    except Refused as refused:
        return _members_page(request, refused.status, **{f"role_{pk}": form})
    messages.success(request, _("Role changed."))
    return redirect("web:settings-members")


def _member_or_404(membership: Membership, pk: int) -> Membership:
    found = account_selectors.members_of(org=membership.organization).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


@require_POST
@login_required
def member_remove(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(
            form,
            lambda: account_services.member_remove(
                org=membership.organization,
                actor=request.user,
                membership_id=pk,
            ),
        )
    except Refused as refused:
        return _members_page(request, refused.status, refused=form)
    messages.success(request, _("Member removed."))
    if pk == membership.pk:
        return redirect("web:home")  # removing yourself is leaving
    return redirect("web:settings-members")


@require_POST
@login_required
def invitation_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(
            form,
            lambda: account_services.invitation_revoke(
                org=membership.organization, actor=request.user, invitation_id=pk
            ),
        )
    except Refused as refused:
        return _members_page(request, refused.status, refused=form)
    messages.success(request, _("Invitation revoked."))
    return redirect("web:settings-members")


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
    if not form.is_valid():
        return _tokens_page(request, 400, token_form=form)
    try:
        issued = _apply(
            form,
            lambda: account_services.token_create(
                org=membership.organization,
                actor=request.user,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
            ),
        )
    except Refused as refused:
        return _tokens_page(request, refused.status, token_form=form)
    # The secret is shown in this answer only (no redirect, nothing stored but its hash).
    response = _tokens_page(request, 201, issued=issued)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def token_revoke(request: SignedInRequest, pk: uuid.UUID) -> HttpResponse:
    membership = _admin(request)
    if not account_selectors.live_tokens_of(org=membership.organization).filter(pk=pk).exists():
        raise Http404
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(
            form,
            lambda: account_services.token_revoke(
                org=membership.organization, actor=request.user, token_id=pk
            ),
        )
    except Refused as refused:
        return _tokens_page(request, refused.status, refused=form)
    messages.success(request, _("Token revoked: it stops working at once."))
    return redirect("web:settings-tokens")


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
    if not form.is_valid():
        return _fields_page(request, 400, field_form=form)
    try:
        _apply(
            form,
            lambda: crm_services.custom_field_create(
                org=membership.organization, actor=request.user, **form.cleaned_data
            ),
        )
    except Refused as refused:
        return _fields_page(request, refused.status, field_form=form)
    messages.success(request, _("Custom field added."))
    return redirect("web:settings-fields")


def _field_or_404(membership: Membership, pk: int) -> Any:
    try:
        return crm_selectors.custom_field_get(org=membership.organization, pk=pk)
    except ApplicationError:
        raise Http404 from None


@require_POST
@login_required
def custom_field_update(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    field = _field_or_404(membership, pk)
    form = forms.CustomFieldUpdateForm(request.POST, prefix=f"f{pk}")
    if not form.is_valid():
        return _fields_page(request, 400, **{f"field_{pk}": form})
    values = dict(form.cleaned_data)
    if field.field_type != CustomFieldType.CHOICE:
        values.pop("choices")  # only a choice field has choices
    try:
        _apply(
            form,
            lambda: crm_services.custom_field_update(
                org=membership.organization, actor=request.user, field=field.pk, **values
            ),
        )
    except Refused as refused:
        return _fields_page(request, refused.status, **{f"field_{pk}": form})
    messages.success(request, _("Custom field saved."))
    return redirect("web:settings-fields")


@require_POST
@login_required
def custom_field_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    field = _field_or_404(membership, pk)
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(
            form,
            lambda: crm_services.custom_field_delete(
                org=membership.organization, actor=request.user, field=field.pk
            ),
        )
    except Refused as refused:
        return _fields_page(request, refused.status, refused=form)
    messages.success(request, _("Custom field deleted, with its values."))
    return redirect("web:settings-fields")


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
    if not form.is_valid():
        return _pipelines_page(request, 400, pipeline_form=form)
    try:
        _apply(
            form,
            lambda: crm_services.pipeline_create(
                org=membership.organization, actor=request.user, name=form.cleaned_data["name"]
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, pipeline_form=form)
    messages.success(request, _("Pipeline added."))
    return redirect("web:settings-pipelines")


def _pipeline_or_404(membership: Membership, pk: int) -> Any:
    try:
        return crm_selectors.pipeline_get(org=membership.organization, pk=pk)
    except ApplicationError:
        raise Http404 from None


def _stage_or_404(membership: Membership, pk: int) -> Any:
    try:
        return crm_selectors.stage_get(org=membership.organization, pk=pk)
    except ApplicationError:
        raise Http404 from None


@require_POST
@login_required
def pipeline_rename(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.PipelineForm(request.POST, prefix=f"p{pk}")
    if not form.is_valid():
        return _pipelines_page(request, 400, **{f"pipeline_{pk}": form})
    try:
        _apply(
            form,
            lambda: crm_services.pipeline_update(
                org=membership.organization, actor=request.user, pipeline=pipeline.pk, **form.cleaned_data
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, **{f"pipeline_{pk}": form})
    messages.success(request, _("Pipeline renamed."))
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def pipeline_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(
            form,
            lambda: crm_services.pipeline_delete(
                org=membership.organization, actor=request.user, pipeline=pipeline.pk
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, refused=form)
    messages.success(request, _("Pipeline deleted."))
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stage_create(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.StageForm(request.POST, prefix=f"n{pk}")
    if not form.is_valid():
        return _pipelines_page(request, 400, **{f"new_stage_{pk}": form})
    try:
        _apply(
            form,
            lambda: crm_services.stage_create(
                org=membership.organization, actor=request.user, pipeline=pipeline.pk, **form.values()
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, **{f"new_stage_{pk}": form})
    messages.success(request, _("Stage added."))
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stage_update(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.StageForm(request.POST, prefix=f"s{pk}")
    if not form.is_valid():
        return _pipelines_page(request, 400, **{f"stage_{pk}": form})
    try:
        _apply(
            form,
            lambda: crm_services.stage_update(
                org=membership.organization, actor=request.user, stage=stage.pk, **form.values()
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, **{f"stage_{pk}": form})
    messages.success(request, _("Stage saved."))
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stage_position(request: SignedInRequest, pk: int) -> HttpResponse:
    """Move a stage up or down (the keyboard and no-script way to reorder)."""
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.PositionForm(request.POST)
    if not form.is_valid():
        return _pipelines_page(request, 400, refused=form)
    try:
        _apply(
            form,
            lambda: crm_services.stage_update(
                org=membership.organization,
                actor=request.user,
                stage=stage.pk,
                position=form.cleaned_data["position"],
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, refused=form)
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stages_reorder(request: SignedInRequest, pk: int) -> HttpResponse:
    """The order of every stage of a pipeline at once (what dragging a stage sends)."""
    membership = _admin(request)
    pipeline = _pipeline_or_404(membership, pk)
    form = forms.StageOrderForm(request.POST)
    if not form.is_valid():
        return _pipelines_page(request, 400, refused=form)
    try:
        _apply(
            form,
            lambda: crm_services.stages_reorder(
                org=membership.organization,
                actor=request.user,
                pipeline=pipeline.pk,
                stage_ids=form.cleaned_data["stage_ids"],
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, refused=form)
    if request.htmx:
        return _pipelines_page(request)
    return redirect("web:settings-pipelines")


@require_POST
@login_required
def stage_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    stage = _stage_or_404(membership, pk)
    form = forms.StageDeleteForm(request.POST)
    if not form.is_valid():
        return _pipelines_page(request, 400, refused=form)
    target = form.cleaned_data.get("move_deals_to")
    try:
        _apply(
            form,
            lambda: crm_services.stage_delete(
                org=membership.organization, actor=request.user, stage=stage.pk, move_deals_to=target
            ),
        )
    except Refused as refused:
        return _pipelines_page(request, refused.status, refused=form)
    messages.success(request, _("Stage deleted."))
    return redirect("web:settings-pipelines")


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
    form = forms.TagForm(request.POST, prefix=f"t{pk}")
    if not form.is_valid():
        if not crm_selectors.tag_list(org=membership.organization).filter(pk=pk).exists():
            raise Http404
        return _tags_page(request, 400, **{f"tag_{pk}": form})
    try:
        _apply(
            form,
            lambda: crm_tags.tag_rename(
                org=membership.organization, actor=request.user, tag=pk, name=form.cleaned_data["name"]
            ),
        )
    except Refused as refused:
        return _tags_page(request, refused.status, **{f"tag_{pk}": form})
    messages.success(request, _("Tag renamed."))
    return redirect("web:settings-tags")


@require_POST
@login_required
def tag_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    membership = _admin(request)
    form = forms.SettingsForm(request.POST)
    form.is_valid()
    try:
        _apply(form, lambda: crm_tags.tag_delete(org=membership.organization, actor=request.user, tag=pk))
    except Refused as refused:
        return _tags_page(request, refused.status, refused=form)
    messages.success(request, _("Tag deleted."))
    return redirect("web:settings-tags")
