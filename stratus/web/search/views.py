"""The search page, the palette's passages by meaning and the record pages' related passages.

The views call ``stratus.knowledge.selectors`` (never the HTTP API). A failure of the vector
store or of the embedder is an error state of the page, not a 500: ``both`` falls back to the
word matches with a notice, ``meaning`` says that searching by meaning is unavailable.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from stratus.accounts.models import Organization, Role
from stratus.knowledge import selectors as knowledge
from stratus.web.context import SignedInRequest, current_membership
from stratus.web.search.forms import SearchForm
from stratus.web.search.passages import passages
from stratus.web.shell import destinations
from stratus.web.shell.views import palette_records
from stratus.web.views import _shell

log = logging.getLogger(__name__)

PAGE_RESULTS = 20
PALETTE_RESULTS = 6
RELATED_RESULTS = 5
FUSION_DEPTH = 50  # each ranking's depth before fusion, as knowledge.selectors.search


class MeaningUnavailable(Exception):
    """The vector store or the embedder failed."""


def _by_meaning(**kwargs: Any) -> list[knowledge.Result]:
    try:
        return knowledge.by_meaning(**kwargs)
    except Exception as error:  # the store or the model: any failure is the same error state
        log.exception("search by meaning failed")
        raise MeaningUnavailable from error


def run_search(
    *, org: Organization, query: str, mode: str, filters: knowledge.Filters, limit: int
) -> tuple[list[knowledge.Result], bool]:
    """``knowledge.selectors.search``, but ``both`` keeps the word matches when meaning fails;
    returns the results and whether they lack the meaning ranking (raises MeaningUnavailable
    in ``meaning`` mode)."""
    if mode == "words":
        return knowledge.by_words(org=org, query=query, filters=filters, limit=limit), False
    if mode == "meaning":
        return _by_meaning(org=org, query=query, filters=filters, limit=limit), False
    depth = max(limit, FUSION_DEPTH)
    words = knowledge.by_words(org=org, query=query, filters=filters, limit=depth)
    try:
        meaning = _by_meaning(org=org, query=query, filters=filters, limit=depth)
    except MeaningUnavailable:
        return knowledge.fuse([words], limit), True
    return knowledge.fuse([meaning, words], limit), False


def _day(value: datetime.date | None, *, after: bool = False) -> datetime.datetime | None:
    if value is None:
        return None
    day = value + datetime.timedelta(days=1) if after else value
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def _filters(data: dict[str, Any]) -> knowledge.Filters:
    return knowledge.Filters(
        record_types=tuple(data.get("type") or ()),
        owner_id=data.get("owner"),
        date_from=_day(data.get("date_from")),
        date_to=_day(data.get("date_to"), after=True),
    )


def _page_context(request: SignedInRequest, org: Organization) -> tuple[dict[str, Any], int]:
    form = SearchForm(request.GET, org=org)
    context: dict[str, Any] = {"form": form, "results": [], "state": "start"}
    if not form.is_valid():
        context["state"] = "invalid"
        context["query"] = str(request.GET.get("q", ""))[:200]
        return context, 400
    data = form.cleaned_data
    query = data["q"].strip()
    context.update(query=query, mode=data["mode"])
    if not query:
        return context, 200
    try:
        results, words_only = run_search(
            org=org, query=query, mode=data["mode"], filters=_filters(data), limit=PAGE_RESULTS
        )
    except MeaningUnavailable:
        context["state"] = "unavailable"
        return context, 503
    context.update(
        results=passages(org, results, query),
        words_only=words_only,
        state="results" if results else "empty",
        filtered=bool(data.get("type") or data.get("owner") or data.get("date_from") or data.get("date_to")),
    )
    return context, 200


@require_GET
@login_required
def search(request: SignedInRequest) -> HttpResponse:
    """``/search``: the search page; its own htmx requests (target ``search-app``) get the
    results and the fields' messages; the palette's get its options (records and pages, or
    passages by meaning with ``mode=meaning``); a boosted or history-restoring request, the page."""
    fragment = request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request
    if fragment and request.htmx.target != "search-app":
        if request.GET.get("mode") == "meaning":
            return palette_meaning(request)
        return palette_records(request)
    membership = current_membership(request)
    context, status = _page_context(request, membership.organization)
    if fragment:
        return render(request, "web/search/_results.html", {**context, "oob": True}, status=status)
    context["destinations"] = (
        destinations.matching(context.get("query", ""), can_create=membership.has_role(Role.MEMBER))
        if context.get("query")
        else []
    )
    return _shell(request, "web/search/search.html", context, section="search", status=status)


def palette_meaning(request: SignedInRequest) -> HttpResponse:
    query = str(request.GET.get("q", "")).strip()[:500]
    org = current_membership(request).organization
    context: dict[str, Any] = {"query": query, "results": [], "unavailable": False}
    if query:
        context["all_href"] = "/search?" + urlencode({"q": query, "mode": "meaning"})
        try:
            found = _by_meaning(org=org, query=query, filters=knowledge.Filters(), limit=PALETTE_RESULTS)
        except MeaningUnavailable:
            context["unavailable"] = True
        else:
            context["results"] = passages(org, found, query, size=140)
    return render(request, "web/search/_palette.html", context)


# --- the record pages' related passages -------------------------------------------------------


def related(request: SignedInRequest, kind: str, pk: int) -> HttpResponse:
    """The passages of other records closest to this record (loaded once the panel shows): the
    vectors already stored for the record and its latest notes, nothing embedded again."""
    from stratus.web.records.views import _target

    target = _target(request, kind, pk)  # another organization's record: 404
    org = target.org
    context: dict[str, Any] = {"results": [], "unavailable": False}
    try:
        found = knowledge.related(org=org, record_type=kind, record_id=pk, limit=RELATED_RESULTS)
    except Exception:  # the store: any failure is the panel's error state
        log.exception("related passages failed")
        context["unavailable"] = True
    else:
        context["results"] = passages(org, found, "", size=200)
    return render(request, "web/search/_related.html", context)
