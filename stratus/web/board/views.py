"""The pipeline board: a column per stage, cards moved through the API's move service.

Column summaries (count, value per currency) come from one grouped query over the whole filter,
not from the cards on the page; each column shows its first cards and loads the rest on demand.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from stratus.accounts import selectors as accounts_selectors
from stratus.accounts.models import Membership, Organization, Role
from stratus.api.serializers import ID_MAX, ID_MIN
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.models import Deal, Pipeline, Stage
from stratus.platform.errors import ApplicationError, Forbidden, Invalid, NotFound, status_of
from stratus.web.board.forms import BOARD_FILTERS, MoveForm
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.views import _shell

CARDS_PER_COLUMN = 25


def _filters(request: SignedInRequest) -> dict[str, str]:
    """The board's filters from the query string, under the API's deal-list parameter names."""
    return {name: value for name in BOARD_FILTERS if (value := request.GET.get(name, "").strip())}


def _chosen(pipelines: list[Pipeline], pk: int | None) -> Pipeline | None:
    if pk is not None:
        for pipeline in pipelines:
            if pipeline.pk == pk:
                return pipeline
        raise Http404(_("No such pipeline."))
    return next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)


def _summaries(
    org: Organization, pipeline: Pipeline, filters: dict[str, str]
) -> dict[int, crm_selectors.StageTotal]:
    return crm_selectors.deal_stage_totals(org=org, pipeline=pipeline, filters=filters)


def _summary_html(stage: Stage, total: crm_selectors.StageTotal | None) -> str:
    return render_to_string(
        "web/board/_summary.html", {"stage": stage, "total": total or crm_selectors.StageTotal()}
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def board(request: SignedInRequest, pk: int | None = None) -> HttpResponse:
    """`/pipeline` (the default pipeline) and `/pipeline/<id>`: the board of one pipeline."""
    membership = current_membership(request)
    org = membership.organization
    pipelines = list(crm_selectors.pipeline_list(org=org))
    pipeline = _chosen(pipelines, pk)
    filters = _filters(request)
    errors: dict[str, list[str]] = {}
    error = ""
    columns: list[dict[str, Any]] = []
    if pipeline is not None:
        try:
            totals = _summaries(org, pipeline, filters)
            cards = crm_selectors.deal_board(
                org=org, pipeline=pipeline, filters=filters, per_stage=CARDS_PER_COLUMN
            )
        except ApplicationError as refused:
            errors, error = refused.field_errors, "" if refused.field_errors else refused.message
            totals, cards = {}, {}
        for stage in pipeline.stages.all():
            total = totals.get(stage.pk) or crm_selectors.StageTotal()
            deals = cards.get(stage.pk, [])
            columns.append({"stage": stage, "total": total, "deals": deals, "more": total.count > len(deals)})
    response = _shell(
        request,
        "web/board/board.html",
        {
            "pipeline": pipeline,
            "pipelines": pipelines,
            "columns": columns,
            "members": accounts_selectors.member_choices(org=org),
            "tags": crm_selectors.tag_list(org=org),
            "filters": filters,
            "filter_query": urlencode(filters),
            "errors": errors,
            "error": error,
            "can_create": membership.has_role(Role.MEMBER),
        },
        section="pipeline",
    )
    if errors or error:
        response.status_code = 400
    return response


def _after(request: SignedInRequest) -> int | None:
    raw = request.GET.get("after", "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not ID_MIN <= value <= ID_MAX:
        raise Http404(_("No such deal."))
    return value


@login_required
@require_http_methods(["GET", "HEAD"])
def column(request: SignedInRequest, pk: int, stage: int) -> HttpResponse:
    """The next cards of one column, after the deal ``after``: the fragment for htmx ("show more"
    and scrolling), a page of its own without JavaScript."""
    membership = current_membership(request)
    org = membership.organization
    try:
        pipeline = crm_selectors.pipeline_get(org=org, pk=pk)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    chosen = next((s for s in pipeline.stages.all() if s.pk == stage), None)
    if chosen is None:
        raise Http404(_("No such stage."))
    filters = _filters(request)
    try:
        deals = crm_selectors.deal_board_column(
            org=org, stage=chosen, filters=filters, after=_after(request), limit=CARDS_PER_COLUMN + 1
        )
    except ApplicationError as refused:
        return HttpResponse(refused.message, status=status_of(refused), content_type="text/plain")
    context = {
        "pipeline": pipeline,
        "stage": chosen,
        "deals": deals[:CARDS_PER_COLUMN],
        "more": len(deals) > CARDS_PER_COLUMN,
        "filter_query": urlencode(filters),
        "can_edit": membership.has_role(Role.MEMBER),
    }
    if request.htmx:
        return render(request, "web/board/_cards.html", context)
    return _shell(request, "web/board/column.html", context, section="pipeline")


@login_required
@require_http_methods(["GET", "HEAD"])
def live(request: SignedInRequest, pk: int) -> HttpResponse:
    """What the board needs after a live event about the deal ``deal``: its card (empty when it
    is no longer on this board for the filter), its stage, and every column summary."""
    membership = current_membership(request)
    org = membership.organization
    try:
        pipeline = crm_selectors.pipeline_get(org=org, pk=pk)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    raw = request.GET.get("deal", "")
    deal_id = int(raw) if raw.isdigit() and len(raw) <= 19 else 0
    if not ID_MIN <= deal_id <= ID_MAX:
        return JsonResponse(
            {"message": _("No such deal."), "errors": {"deal": [_("No such deal.")]}}, status=400
        )
    filters = _filters(request)
    try:
        totals = _summaries(org, pipeline, filters)
        deal = crm_selectors.deal_board_card(org=org, pipeline=pipeline, filters=filters, pk=deal_id)
    except ApplicationError as refused:
        return JsonResponse(
            {"message": refused.message, "errors": refused.field_errors}, status=status_of(refused)
        )
    stages = list(pipeline.stages.all())
    card = ""
    if deal is not None:
        stage = next(s for s in stages if s.pk == deal.stage_id)
        card = render_to_string(
            "web/board/_cards.html",
            {
                "pipeline": pipeline,
                "stage": stage,
                "deals": [deal],
                "more": False,
                "filter_query": urlencode(filters),
                "can_edit": membership.has_role(Role.MEMBER),
            },
            request=request,
        )
    return JsonResponse(
        {
            "stage": deal.stage_id if deal is not None else None,
            "card": card,
            "summaries": {str(stage.pk): _summary_html(stage, totals.get(stage.pk)) for stage in stages},
        }
    )


def _wants_json(request: SignedInRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _move(request: SignedInRequest, membership: Membership, deal: Deal, form: MoveForm) -> Deal:
    """The move through the API's service; a viewer is refused as the API refuses them."""
    if not membership.has_role(Role.MEMBER):
        raise Forbidden(_("Viewers cannot move deals."))
    if not form.is_valid():
        errors = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
        raise Invalid(_("Check the move."), field_errors=errors)
    return crm_services.deal_move(
        org=membership.organization,
        actor=request.user,
        deal=deal.pk,
        stage=form.cleaned_data["stage"],
        lost_reason=form.cleaned_data["lost_reason"] or None,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def move(request: SignedInRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage. The board's script posts here and gets JSON (the refreshed
    column summaries, or the refusal); without JavaScript this is a page with a form."""
    membership = current_membership(request)
    org = membership.organization
    try:
        deal = crm_selectors.deal_get(org=org, pk=pk)
        pipeline = crm_selectors.pipeline_get(org=org, pk=deal.pipeline_id)
    except NotFound as missing:
        if _wants_json(request):
            return JsonResponse({"message": missing.message, "errors": {}}, status=404)
        raise Http404(missing.message) from missing
    filters = _filters(request)
    form = MoveForm(request.POST or None, initial={"stage": deal.stage_id})
    refusal: ApplicationError | None = None
    if request.method == "POST":
        try:
            moved = _move(request, membership, deal, form)
        except ApplicationError as refused:
            refusal = refused
        else:
            if _wants_json(request):
                target = crm_selectors.pipeline_get(org=org, pk=moved.pipeline_id)
                totals = _summaries(org, target, filters)
                return JsonResponse(
                    {
                        "stage": moved.stage_id,
                        "summaries": {
                            str(stage.pk): _summary_html(stage, totals.get(stage.pk))
                            for stage in target.stages.all()
                        },
                    }
                )
            board_url = reverse("web:pipeline", args=[moved.pipeline_id])
            return HttpResponseRedirect(f"{board_url}?{urlencode(filters)}" if filters else board_url)
        if _wants_json(request):
            return JsonResponse(
                {"message": refusal.message, "errors": refusal.field_errors}, status=status_of(refusal)
            )
    response = _shell(
        request,
        "web/board/move.html",
        {
            "deal": deal,
            "pipeline": pipeline,
            "form": form,
            "refusal": refusal,
            "field_errors": refusal.field_errors if refusal else {},
            "filter_query": urlencode(filters),
        },
        section="pipeline",
    )
    if refusal is not None:
        response.status_code = status_of(refusal)
    return response
