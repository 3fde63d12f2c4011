"""Tenant isolation, roles and CSRF over every URL pattern of the browser app (the `web` namespace).

The URL resolver is walked, not a hand-written list of pages: a new page fails this suite until
its methods are listed in METHODS and, when its path takes an id, until FILL says which row of
another organization fills it. Organization A holds one row of each kind (built through the
API by tests/test_api_isolation.World); the person signed in is the owner of organization B.

- every page with an id answers the app's 404 page to B's owner for A's row, on GET and (for a
  write) POST, and A's rows are unchanged afterwards;
- a viewer of A gets 403 on every write of the organization's data, and the main pages show a
  viewer no control that leads to such a write;
- every POST without the CSRF token is refused (403) and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, get_resolver, resolve, reverse
from django.utils import timezone

from stratus.accounts.models import Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Tag
from stratus.web.lists import services as list_services
from stratus.web.models import BulkAction, BulkJob, BulkState, Dashboard, ExportJob
from tests.test_api_isolation import MARKER, World, _walk, tenant_fingerprint
from testsupport.factories import make_member

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    route: str
    name: str  # without the "web:" prefix
    params: tuple[str, ...]  # every path parameter
    ids: tuple[str, ...]  # the parameters that take a row's id (int or uuid)


def web_pages() -> list[Page]:
    found = []
    for route, name, _callback in _walk(get_resolver().url_patterns):
        if not name.startswith("web:"):
            continue
        params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
        ids = tuple(re.findall(r"<(?:int|uuid):(\w+)>", route))
        found.append(Page(route, name.removeprefix("web:"), params, ids))
    return found


# --- what each page serves ------------------------------------------------------------------------

GET, POST, BOTH = ("get",), ("post",), ("get", "post")

RECORD_METHODS = {
    "": GET,
    "-main": GET,
    "-timeline": GET,
    "-field": GET,
    "-field-edit": GET,
    "-field-save": POST,
    "-delete": BOTH,  # GET: the confirmation page
    "-activities": POST,
    "-documents": BOTH,  # GET: the documents panel (its live refresh)
    "-upload-start": POST,
    "-upload-finish": POST,
    "-document-rename": POST,
    "-document-delete": POST,
    "-document-download": GET,
    "-related-passages": GET,  # the "Related by meaning" panel
    "-new": BOTH,  # GET: the creation form
}

METHODS: dict[str, tuple[str, ...]] = {
    "home": BOTH,  # the sign-in form for visitors
    "login": BOTH,
    "logout": POST,
    "switch-organization": POST,
    "task-done": POST,
    "task-reschedule": POST,
    "list-contacts": GET,
    "list-companies": GET,
    "list-deals": GET,
    "list-activities": GET,
    "list-bulk-progress": GET,
    "list-rows": GET,
    "list-bulk": POST,
    "list-export": POST,
    "list-export-progress": GET,
    "list-export-download": GET,
    "list-view-save": POST,
    "list-view-default": POST,
    "list-view-delete": POST,
    "list-cell": GET,
    "list-row": GET,
    "list-cell-edit": BOTH,
    **{
        f"{kind}{suffix}": methods
        for kind in ("contact", "company", "deal")
        for suffix, methods in RECORD_METHODS.items()
    },
    "pipeline-default": GET,
    "pipeline": GET,
    "pipeline-column": GET,
    "pipeline-live": GET,
    "deal-move": BOTH,  # GET: the move form without JavaScript
    "profile": BOTH,
    "notifications": GET,
    "notifications-badge": GET,
    "notifications-read-all": POST,
    "notification-read": POST,
    "search": GET,
    "tasks": GET,
    "settings": GET,
    "settings-members": GET,
    "settings-member-invite": POST,
    "settings-member-role": POST,
    "settings-member-remove": POST,
    "settings-invitation-revoke": POST,
    "settings-tokens": GET,
    "settings-token-create": POST,
    "settings-token-revoke": POST,
    "settings-fields": GET,
    "settings-field-create": POST,
    "settings-field-update": POST,
    "settings-field-delete": POST,
    "settings-pipelines": GET,
    "settings-pipeline-create": POST,
    "settings-pipeline-rename": POST,
    "settings-pipeline-delete": POST,
    "settings-stage-create": POST,
    "settings-stages-reorder": POST,
    "settings-stage-update": POST,
    "settings-stage-position": POST,
    "settings-stage-delete": POST,
    "settings-tags": GET,
    "settings-tag-rename": POST,
    "settings-tag-delete": POST,
    "campaign-list": GET,
    "campaign-new": BOTH,  # GET: the compose form
    "campaign-audience": GET,
    "campaign": GET,
    "campaign-edit": BOTH,  # GET: the compose form of a draft
    "campaign-progress": GET,
    "campaign-recipients": GET,
    "campaign-preview": GET,
    "campaign-preview-html": GET,
    "campaign-test-send": POST,
    "campaign-send": POST,
    "campaign-action": POST,
    "dashboard-csv": GET,
    "dashboard-new": BOTH,  # GET: the form
    "dashboard-edit": BOTH,  # GET: the form
    "dashboard-delete": POST,
    "settings-rates": GET,
    "settings-rate-create": POST,
    "settings-rate-update": POST,
    "settings-rate-delete": POST,
    "imports": GET,
    "import-new": BOTH,  # POST: the form's own upload
    "import-map": BOTH,  # POST: start the import
    "import-upload-start": POST,
    "import-local-upload": POST,  # the embedded default's stand-in for a presigned POST
    "imports-running": GET,
    "import-detail": GET,
    "import-cancel": POST,
    "import-errors": GET,
}

# POSTs a viewer may make: the person's own session, views and inbox, not the organization's data.
VIEWER_WRITES = {
    "home": "the sign-in form for visitors; a signed-in POST only shows the page",
    "login": "starts a session",
    "logout": "ends the viewer's own session",
    "switch-organization": "chooses which of the viewer's organizations the pages show",
    "profile": "the viewer's own name, password and e-mail preferences",
    "notification-read": "marks the viewer's own notification read",
    "notifications-read-all": "marks the viewer's own notifications read",
    "list-view-save": "the viewer's own saved views (sharing needs a member: lists tests)",
    "list-view-default": "the viewer's own default view",
    "list-view-delete": "the viewer's own saved views",
    "list-export": "the viewer's own export of a list they can read (the API's exports allow it)",
}


# --- how an id is filled --------------------------------------------------------------------------


class Rows(World):
    """tests/test_api_isolation's organization A, plus the browser app's own rows (a saved view, a
    bulk job) and B's own contact and pipeline (for a foreign id beside one of B's own)."""

    def build(self) -> None:
        super().build()
        owner: User = self.a_owner_user.user
        self.ids["tag"] = Tag.objects.get(organization=self.a, name=MARKER.lower()).pk
        self.ids["saved_view"] = list_services.saved_view_save(
            org=self.a, actor=owner, kind="contacts", name=MARKER, filters={}
        ).pk
        self.ids["bulk_job"] = BulkJob.objects.create(
            organization=self.a,
            created_by=owner,
            kind="contacts",
            action=BulkAction.TAGS,
            value=["x"],
            ids=[],
        ).pk
        # A finished export whose link would be given to its owner: another organization gets a 404.
        self.ids["export_job"] = ExportJob.objects.create(
            organization=self.a,
            created_by=owner,
            kind="contacts",
            state=BulkState.DONE,
            total=1,
            done=1,
            key=f"exports/{self.a.pk}/{MARKER}.csv",
            expires_at=timezone.now() + timedelta(hours=1),
        ).pk
        self.ids["dashboard"] = Dashboard.objects.create(
            organization=self.a, created_by=owner, name=MARKER, charts=["won"], shared=True
        ).pk
        self.b_user: User = make_member(self.b, Role.OWNER).user
        self.own_contact = crm_services.contact_create(org=self.b, actor=None, first_name="Own").pk
        self.own_pipeline = crm_services.pipeline_create(org=self.b, actor=None, name="Own")


Kwargs = dict[str, Any]


def _record(kind: str) -> Callable[[Rows], list[Kwargs]]:
    return lambda r: [{"pk": r.ids[kind]}]


def _record_field(kind: str, field: str) -> Callable[[Rows], list[Kwargs]]:
    return lambda r: [{"pk": r.ids[kind], "field": field}]


def _record_document(kind: str) -> Callable[[Rows], list[Kwargs]]:
    # A's document under A's record, and (contacts) A's document under one of B's own records.
    def fill(r: Rows) -> list[Kwargs]:
        found = [{"pk": r.ids[kind], "document_id": r.ids["document"]}]
        if kind == "contact":
            found.append({"pk": r.own_contact, "document_id": r.ids["document"]})
        return found

    return fill


def _by(key: str) -> Callable[[Rows], list[Kwargs]]:
    return lambda r: [{"pk": r.ids[key]}]


RECORD_FIELDS = {"contact": "first_name", "company": "name", "deal": "title"}

FILL: dict[str, Callable[[Rows], list[Kwargs]]] = {
    "task-done": _by("activity"),
    "task-reschedule": _by("activity"),
    "list-bulk-progress": _by("bulk_job"),
    "list-export-progress": _by("export_job"),
    "list-export-download": _by("export_job"),
    "list-view-delete": lambda r: [{"kind": "contacts", "pk": r.ids["saved_view"]}],
    "list-cell": lambda r: [{"kind": "contacts", "pk": r.ids["contact"], "column": "email"}],
    "list-row": lambda r: [{"kind": "contacts", "pk": r.ids["contact"]}],
    "list-cell-edit": lambda r: [{"kind": "contacts", "pk": r.ids["contact"], "column": "email"}],
    "pipeline": _by("pipeline"),
    "pipeline-live": _by("pipeline"),
    "pipeline-column": lambda r: [
        {"pk": r.ids["pipeline"], "stage": r.ids["stage"]},
        {"pk": r.own_pipeline.pk, "stage": r.ids["stage"]},
    ],
    "deal-move": _by("deal"),
    "notification-read": _by("notification"),
    "settings-member-role": _by("member"),
    "settings-member-remove": _by("member"),
    "settings-invitation-revoke": _by("invitation"),
    "settings-token-revoke": _by("token"),
    "settings-field-update": _by("custom_field"),
    "settings-field-delete": _by("custom_field"),
    "settings-pipeline-rename": _by("pipeline"),
    "settings-pipeline-delete": _by("pipeline"),
    "settings-stage-create": _by("pipeline"),
    "settings-stages-reorder": _by("pipeline"),
    "settings-stage-update": _by("stage"),
    "settings-stage-position": _by("stage"),
    "settings-stage-delete": _by("stage"),
    "settings-tag-rename": _by("tag"),
    "settings-tag-delete": _by("tag"),
    **{
        name: _by("campaign")
        for name in (
            "campaign",
            "campaign-edit",
            "campaign-progress",
            "campaign-recipients",
            "campaign-preview",
            "campaign-preview-html",
            "campaign-test-send",
            "campaign-send",
        )
    },
    "campaign-action": lambda r: [
        {"pk": r.ids["campaign"], "action": action} for action in ("pause", "cancel")
    ],
    "dashboard-edit": _by("dashboard"),
    "dashboard-delete": _by("dashboard"),
    "settings-rate-update": _by("exchange_rate"),
    "settings-rate-delete": _by("exchange_rate"),
    "import-detail": _by("import"),
    "import-cancel": _by("import"),
    "import-errors": _by("import"),
}
for _kind, _field in RECORD_FIELDS.items():
    for _suffix in (
        "",
        "-main",
        "-timeline",
        "-delete",
        "-activities",
        "-documents",
        "-upload-start",
        "-related-passages",
    ):
        FILL[f"{_kind}{_suffix}"] = _record(_kind)
    for _suffix in ("-field", "-field-edit", "-field-save"):
        FILL[f"{_kind}{_suffix}"] = _record_field(_kind, _field)
    for _suffix in ("-upload-finish", "-document-rename", "-document-delete", "-document-download"):
        FILL[f"{_kind}{_suffix}"] = _record_document(_kind)

# Non-id path parameters of pages without an id (the list kind).
PLAIN: dict[str, Kwargs] = {
    "list-rows": {"kind": "contacts"},
    "list-bulk": {"kind": "contacts"},
    "list-export": {"kind": "contacts"},
    "list-view-save": {"kind": "contacts"},
    "list-view-default": {"kind": "contacts"},
    "dashboard-csv": {"report": "funnel"},
    "import-local-upload": {"token": "not-a-signed-token"},
}


# A POST body most writes would accept, so a refusal comes from the id, not from the form.
BODY = {"value": MARKER, "name": MARKER, "due_at": "2030-01-02T10:00", "role": "viewer", "position": "0"}


def own_kwargs(rows: Rows, page: Page) -> Kwargs:
    """Path parameters naming organization A's own rows (for A's viewer)."""
    if page.ids:
        return FILL[page.name](rows)[0]
    return PLAIN.get(page.name, {})


@pytest.fixture
def rows() -> Rows:
    built = Rows()
    built.build()
    return built


def signed_in(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def is_app_404(response: Any) -> bool:
    names = [t.name for t in getattr(response, "templates", []) if t.name]
    return (
        response.status_code == 404 and "404.html" in names and b'data-testid="error-404"' in response.content
    )


def _text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return str(response.content.decode(errors="replace"))


# --- the guards ---------------------------------------------------------------------------------


def test_every_web_page_is_classified() -> None:
    pages = web_pages()
    names = {p.name for p in pages}
    unknown = names - set(METHODS)
    assert not unknown, f"new web pages: list their methods in METHODS: {sorted(unknown)}"
    assert not set(METHODS) - names, f"listed pages that no longer exist: {sorted(set(METHODS) - names)}"
    unfilled = sorted(p.route for p in pages if p.ids and p.name not in FILL)
    assert not unfilled, (
        f"pages with an id: say in FILL which row of another organization fills it: {unfilled}"
    )
    for page in pages:
        if not page.ids:
            missing = set(page.params) - set(PLAIN.get(page.name, {}))
            assert not missing, f"{page.route}: PLAIN must fill {sorted(missing)}"
    assert not set(VIEWER_WRITES) - names
    assert all("post" in METHODS[name] for name in VIEWER_WRITES)


def test_methods_not_listed_are_refused(rows: Rows) -> None:
    """METHODS is the truth: a method not listed for a page answers 405 (checked before any view code)."""
    client = signed_in(rows.b_user)
    for page in web_pages():
        kwargs = own_kwargs(rows, page)
        path = reverse(f"web:{page.name}", kwargs=kwargs)
        for method in ("get", "post"):
            if method in METHODS[page.name]:
                continue
            response = getattr(client, method)(path)
            assert response.status_code == 405, (method.upper(), path, response.status_code)


def test_another_organizations_id_is_the_apps_404_and_changes_nothing(rows: Rows) -> None:
    client = signed_in(rows.b_user)
    before = tenant_fingerprint(rows.a)
    checked = 0
    for page in web_pages():
        if not page.ids:
            continue
        for kwargs in FILL[page.name](rows):
            path = reverse(f"web:{page.name}", kwargs=kwargs)
            for method in METHODS[page.name]:
                response = getattr(client, method)(path, BODY if method == "post" else {})
                assert is_app_404(response), (
                    method.upper(),
                    path,
                    response.status_code,
                    _text(response)[:300],
                )
                assert MARKER not in _text(response)
                checked += 1
            assert tenant_fingerprint(rows.a) == before, f"{path} changed organization A's data"
    assert checked >= 70


def test_viewers_get_403_on_every_write(rows: Rows) -> None:
    viewer = signed_in(make_member(rows.a, Role.VIEWER).user)
    before = tenant_fingerprint(rows.a)
    denied = 0
    for page in web_pages():
        if "post" not in METHODS[page.name] or page.name in VIEWER_WRITES:
            continue
        path = reverse(f"web:{page.name}", kwargs=own_kwargs(rows, page))
        response = viewer.post(
            path, {"value": "x", "name": "x", "action": BulkAction.DELETE, "ids": [rows.ids["contact"]]}
        )
        assert response.status_code == 403, (path, response.status_code, _text(response)[:300])
        denied += 1
    assert tenant_fingerprint(rows.a) == before
    assert denied >= 40


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(rows: Rows) -> None:
    owner = rows.a_owner_user.user
    client = signed_in(owner, enforce_csrf_checks=True)
    before = tenant_fingerprint(rows.a)
    refused = 0
    for page in web_pages():
        if "post" not in METHODS[page.name]:
            continue
        path = reverse(f"web:{page.name}", kwargs=own_kwargs(rows, page))
        response = client.post(
            path,
            {
                "value": "x",
                "name": "x",
                "action": BulkAction.DELETE,
                "ids": [rows.ids["contact"]],
                "confirmed": "1",
            },
        )
        assert response.status_code == 403, (path, response.status_code)
        assert b"CSRF" in response.content
        refused += 1
    assert tenant_fingerprint(rows.a) == before
    # The session survived every refused POST (logout included).
    assert client.get(reverse("web:settings-members")).status_code == 200
    assert refused >= 50


# --- what a viewer is shown ----------------------------------------------------------------------


class _Targets(HTMLParser):
    """Every address a page's controls lead to: links, form actions, htmx requests."""

    ATTRIBUTES = ("href", "action", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "formaction")

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name in self.ATTRIBUTES or (name.startswith("data-") and name.endswith("-url"))):
                self.targets.append(value)


# Pages a viewer must not be offered: every write but their own, and the editors that lead to one.
EDITORS = (
    {f"{kind}-field-edit" for kind in RECORD_FIELDS}
    | {f"{kind}-delete" for kind in RECORD_FIELDS}
    | {f"{kind}-new" for kind in RECORD_FIELDS}
    | {"list-cell-edit"}
)


def _forbidden_controls(html: str) -> list[str]:
    parser = _Targets()
    parser.feed(html)
    found = []
    for target in parser.targets:
        path = urlsplit(target).path
        if not path.startswith("/"):
            continue
        try:
            match = resolve(path)
        except Resolver404:
            continue
        name = (match.view_name or "").removeprefix("web:")
        if name not in METHODS or name in VIEWER_WRITES:
            continue
        if name in EDITORS or ("post" in METHODS[name] and "get" not in METHODS[name]):
            found.append(target)
    return found


def main_pages(rows: Rows) -> Iterator[str]:
    yield reverse("web:home")
    for kind in ("contacts", "companies", "deals", "activities"):
        yield reverse(f"web:list-{kind}")
    yield reverse("web:contact", args=[rows.ids["contact"]])
    yield reverse("web:company", args=[rows.ids["company"]])
    yield reverse("web:deal", args=[rows.ids["deal"]])
    yield reverse("web:pipeline", args=[rows.ids["pipeline"]])
    for tab in ("members", "tokens", "fields", "pipelines", "tags"):
        yield reverse(f"web:settings-{tab}")


def test_viewers_see_no_edit_controls_on_the_main_pages(rows: Rows) -> None:
    viewer = signed_in(make_member(rows.a, Role.VIEWER).user)
    owner = signed_in(rows.a_owner_user.user)
    offered_to_owner = 0
    for path in main_pages(rows):
        seen = viewer.get(path)
        assert seen.status_code == 200, (path, seen.status_code)
        assert not _forbidden_controls(_text(seen)), (path, _forbidden_controls(_text(seen)))
        offered_to_owner += bool(_forbidden_controls(_text(owner.get(path))))
    # The owner is offered them on (nearly) every one of those pages: the check is not vacuous.
    assert offered_to_owner >= 10
