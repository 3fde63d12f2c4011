"""Tenant isolation and roles, over every URL pattern of the API.

The URL resolver is walked, not a hand-written list: a new API pattern fails this suite until
it is listed below, either with a maker (which creates one object of organization A through
the API, so the pattern's path parameters can be filled) or as an exemption with its reason.

For every object pattern, organization B's owner gets 404 for each method the view has, and
organization A's rows are byte-for-byte unchanged afterwards. For every pattern, nothing B
reads contains A's marker. Viewers cannot write anywhere; finer role rules are a matrix.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from stratus.accounts.models import Membership, Organization, Role
from stratus.reminders.models import Notification
from testsupport.factories import make_member, make_organization, make_token, token_client
from testsupport.search import index_pending

pytestmark = pytest.mark.django_db

MARKER = "ZZSECRETA"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Pattern:
    route: str
    name: str
    methods: tuple[str, ...]
    params: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}", entry.callback


def api_patterns() -> list[Pattern]:
    found = []
    for route, name, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is not None:
            methods = tuple(
                m for m in METHODS if hasattr(view_class, m) and m in view_class.http_method_names
            )
        else:
            methods = ("get", "post")  # a function view: try both, it must refuse what it does not serve
        found.append(Pattern(route, name, methods, tuple(callback_params(route))))
    return found


def callback_params(route: str) -> list[str]:
    import re

    return re.findall(r"<(?:\w+:)?(\w+)>", route)


# --- what each pattern needs ------------------------------------------------------------------


class World:
    """Organization A (with one object of each kind, names carrying MARKER) and organization B."""

    def __init__(self) -> None:
        self.a = make_organization("A")
        self.b = make_organization("B")
        self.a_owner = token_client(make_token(self.a, Role.OWNER))
        self.b_owner = token_client(make_token(self.b, Role.OWNER))
        self.a_owner_user = Membership.objects.filter(organization=self.a, role=Role.OWNER).order_by("id")[0]
        self.ids: dict[str, Any] = {}

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.a_owner.post(path, data, format=kwargs.pop("format", "json"), **kwargs)
        assert response.status_code in (200, 201, 202), (path, response.content)
        return response.json()

    def build(self) -> None:
        pipeline = self.post("/api/v1/pipelines", {"name": f"{MARKER} pipeline"})
        self.ids["pipeline"] = pipeline["id"]
        self.ids["stage"] = pipeline["stages"][0]["id"]
        self.ids["company"] = self.post("/api/v1/companies", {"name": f"{MARKER} company"})["id"]
        self.ids["contact"] = self.post(
            "/api/v1/contacts", {"first_name": MARKER, "email": "a@a.example", "tags": [MARKER.lower()]}
        )["id"]
        self.ids["deal"] = self.post(
            "/api/v1/deals", {"title": f"{MARKER} deal", "contacts": [self.ids["contact"]]}
        )["id"]
        self.ids["activity"] = self.post(
            "/api/v1/activities",
            {
                "subject": f"{MARKER} call",
                "contact": self.ids["contact"],
                "due_at": timezone.now().isoformat(),
            },
        )["id"]
        self.ids["custom_field"] = self.post(
            "/api/v1/custom-fields",
            {"entity": "contact", "key": "zzsecret", "label": MARKER, "field_type": "text"},
        )["id"]
        self.ids["member"] = make_member(self.a, Role.MEMBER).pk
        self.ids["token"] = self.post("/api/v1/tokens", {"name": f"{MARKER} token", "role": "viewer"})["id"]
        self.ids["invitation"] = self.post("/api/v1/invitations", {"email": "zzsecreta@a.example"})["id"]
        pdf = io.BytesIO(b"%PDF-1.4\n% " + MARKER.encode() + b"\n%%EOF\n")
        pdf.name = f"{MARKER}.pdf"
        self.ids["document"] = self.post(
            "/api/v1/documents/", {"contact": self.ids["contact"], "file": pdf}, format="multipart"
        )["id"]
        self.ids["reminder"] = self.post(
            "/api/v1/reminders", {"activity": self.ids["activity"], "offset_minutes": 5, "note": MARKER}
        )["id"]
        self.ids["notification"] = Notification.objects.create(
            organization=self.a, user=self.a_owner_user.user, title=MARKER
        ).pk
        self.ids["segment"] = self.post("/api/v1/segments", {"name": MARKER, "filters": {"tags": ["vip"]}})[
            "id"
        ]
        self.ids["campaign"] = self.post(
            "/api/v1/campaigns",
            {"name": MARKER, "segment": self.ids["segment"], "subject": "Hi", "body_text": MARKER},
        )["id"]
        self.ids["suppression"] = self.post("/api/v1/suppressions", {"email": "zzsecreta@a.example"})["id"]
        self.ids["import"] = self.post(
            "/api/v1/imports",
            {
                "file": SimpleUploadedFile("people.csv", f"Name,Email\n{MARKER},x@a.example\n".encode()),
                "kind": "contacts",
            },
            format="multipart",
        )["id"]
        self.ids["exchange_rate"] = self.post(
            "/api/v1/exchange-rates",
            {"currency": "USD", "currency_to": "EUR", "rate": "0.9234", "valid_from": "2026-01-01"},
        )["id"]
        self.ids["export_job"] = self.post(
            "/api/v1/export-jobs",
            {"kind": "contacts", "filters": {"q": MARKER}, "columns": ["name", "email"]},
        )["id"]


# Object patterns: which object of A fills the path parameter.
OBJECTS: dict[str, str] = {
    "api-member-detail": "member",
    "api-token-detail": "token",
    "api-invitation-detail": "invitation",
    "api-invitation-revoke": "invitation",
    "api-invitation-resend": "invitation",
    "api-company-detail": "company",
    "api-company-timeline": "company",
    "api-contact-detail": "contact",
    "api-contact-timeline": "contact",
    "api-deal-detail": "deal",
    "api-deal-move": "deal",
    "api-deal-timeline": "deal",
    "api-activity-detail": "activity",
    "api-activity-timeline": "activity",
    "api-pipeline-detail": "pipeline",
    "api-pipeline-stages": "pipeline",
    "api-pipeline-timeline": "pipeline",
    "api-stage-detail": "stage",
    "api-custom-field-detail": "custom_field",
    "documents:detail": "document",
    "documents:finish": "document",
    "documents:download": "document",
    "documents:download-url": "document",
    "api-reminder-detail": "reminder",
    "api-notification-read": "notification",
    "api-segment-detail": "segment",
    "api-segment-members": "segment",
    "api-campaign-detail": "campaign",
    "api-campaign-send": "campaign",
    "api-campaign-pause": "campaign",
    "api-campaign-resume": "campaign",
    "api-campaign-cancel": "campaign",
    "api-campaign-stats": "campaign",
    "api-campaign-preview": "campaign",
    "api-campaign-recipients": "campaign",
    "api-suppression-detail": "suppression",
    "api-import-detail": "import",
    "api-import-cancel": "import",
    "api-import-errors": "import",
    "api-exchange-rate-detail": "exchange_rate",
    "api-export-job-detail": "export_job",
    "api-export-job-download": "export_job",
}

# Collections and organization-wide endpoints: B's answers must not show A's data.
COLLECTIONS = {
    "api-organization",
    "api-organization-leave",
    "api-member-list",
    "api-invitation-list",
    "api-token-list",
    "api-company-list",
    "api-contact-list",
    "api-deal-list",
    "api-activity-list",
    "api-pipeline-list",
    "api-custom-field-list",
    "api-tag-list",
    "api-timeline",
    "documents:list",
    "documents:upload-start",
    "api-reminder-list",
    "api-notification-list",
    "api-notification-unread",
    "api-notification-read-all",
    "api-notification-prefs",
    "api-segment-list",
    "api-segment-preview",
    "api-campaign-list",
    "api-suppression-list",
    "api-import-list",
    "api-import-analyse",
    "api-export-contacts",
    "api-export-companies",
    "api-export-deals",
    "api-realtime-tickets",
    "api-report-funnel",
    "api-report-velocity",
    "api-report-won-lost",
    "api-report-forecast",
    "api-report-activity",
    "api-report-campaigns",
    "api-exchange-rate-list",
    "api-export-job-list",
    "api-search",
}

# Patterns outside tenant data, with the reason.
EXEMPT = {
    "api-health": "readiness probe, no tenant data",
    "api-schema": "the public OpenAPI document",
    "api-docs": "Swagger UI page",
    "api-redoc": "ReDoc page",
    "api-signup": "creates a new organization; no credentials",
    "api-signup-confirm": "authorised by a signed emailed link, not by credentials (accounts tests)",
    "api-invitation-inspect": "authorised by a signed emailed link, not by credentials (accounts tests)",
    "api-invitation-accept": "the caller's own invitation, by its signed link (accounts tests)",
    "api-invitation-signup": "authorised by a signed emailed link, not by credentials (accounts tests)",
    "api-login": "starts a session; no organization",
    "api-logout": "ends the caller's own session",
    "api-me": "the caller's own user and memberships",
    "documents:local-upload": "authorised by a signed single-use URL, not by credentials (documents tests)",
    "documents:local-download": "authorised by a signed expiring URL, not by credentials (documents tests)",
}

# Writes a viewer may make: personal state, not the organization's records.
VIEWER_WRITES = {
    "api-notification-read": "marks the viewer's own notification read",
    "api-notification-read-all": "marks the viewer's own notifications read",
    "api-notification-prefs": "the viewer's own delivery preferences",
    "api-realtime-tickets": "a ticket to receive live updates, a read",
    "api-segment-preview": "counts contacts matching filters, a read",
    "api-import-analyse": "reads a file's columns, writes nothing",
    "api-campaign-preview": "renders the campaign for one contact, writes nothing",
    "api-export-job-list": "exports a list the viewer may read (the browser's rule: exporting is reading)",
}


def tenant_fingerprint(organization: Organization) -> str:
    """Every row of every model that belongs to ``organization``, in a stable order."""
    snapshot = {}
    for model in apps.get_models():
        field_names = {f.name for f in model._meta.get_fields()}
        if "organization" not in field_names or model._meta.label == "api.IdempotencyKey":
            continue
        rows = model._default_manager.filter(organization=organization).order_by("pk").values()
        snapshot[model._meta.label] = [{k: v for k, v in row.items() if k != "last_used_at"} for row in rows]
    return json.dumps(snapshot, sort_keys=True, default=str)


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _call(client: APIClient, method: str, path: str) -> Any:
    if method in ("get", "delete"):
        return getattr(client, method)(path)
    return getattr(client, method)(path, {}, format="json")


@pytest.fixture
def world() -> World:
    built = World()
    built.build()
    return built


def test_every_api_pattern_is_classified() -> None:
    names = {p.name for p in api_patterns()}
    unknown = names - set(OBJECTS) - COLLECTIONS - set(EXEMPT)
    assert not unknown, f"new API patterns: add them to OBJECTS, COLLECTIONS or EXEMPT: {sorted(unknown)}"
    stale = (set(OBJECTS) | COLLECTIONS | set(EXEMPT)) - names
    assert not stale, f"listed patterns that no longer exist: {sorted(stale)}"
    for pattern in api_patterns():
        assert bool(pattern.params) == (pattern.name in OBJECTS) or pattern.name in EXEMPT, pattern


def test_another_organization_gets_404_and_changes_nothing(world: World) -> None:
    before = tenant_fingerprint(world.a)
    checked = 0
    for pattern in api_patterns():
        if pattern.name not in OBJECTS:
            continue
        path = reverse(pattern.name, kwargs={pattern.params[0]: world.ids[OBJECTS[pattern.name]]})
        for method in pattern.methods:
            response = _call(world.b_owner, method, path)
            assert response.status_code == 404, (
                method.upper(),
                path,
                response.status_code,
                _body(response)[:300],
            )
            assert MARKER not in _body(response)
            checked += 1
        assert tenant_fingerprint(world.a) == before, f"{path} changed organization A's data"
    assert checked >= 60


# Query parameters a collection needs (search: organization A's marker, by words and by meaning).
COLLECTION_QUERIES: dict[str, dict[str, str]] = {"api-search": {"q": MARKER, "mode": "both"}}


def test_collections_never_show_another_organizations_data(world: World, qdrant_in_tmp: Any) -> None:
    index_pending()  # organization A's text is searchable by meaning too
    for pattern in api_patterns():
        if pattern.name not in COLLECTIONS or "get" not in pattern.methods:
            continue
        response = world.b_owner.get(reverse(pattern.name), COLLECTION_QUERIES.get(pattern.name, {}))
        assert response.status_code in (200, 405), (pattern.route, response.status_code)
        assert MARKER not in _body(response), f"{pattern.route} shows organization A's data to B"
        assert MARKER.lower() not in _body(response)


def test_viewers_cannot_write_anywhere(world: World) -> None:
    viewer = token_client(make_token(world.a, Role.VIEWER))
    before = tenant_fingerprint(world.a)
    denied = 0
    for pattern in api_patterns():
        if pattern.name in EXEMPT or pattern.name in VIEWER_WRITES:
            continue
        kwargs = {pattern.params[0]: world.ids[OBJECTS[pattern.name]]} if pattern.params else {}
        path = reverse(pattern.name, kwargs=kwargs)
        for method in pattern.methods:
            if method == "get":
                continue
            response = _call(viewer, method, path)
            assert response.status_code == 403, (
                method.upper(),
                path,
                response.status_code,
                _body(response)[:300],
            )
            denied += 1
    assert tenant_fingerprint(world.a) == before
    assert denied >= 40


Check = tuple[str, str, Callable[[World], str], Callable[[World], dict[str, Any]], Role]

# (method, label, path, body, lowest role allowed)
ROLE_MATRIX: list[Check] = [
    ("post", "create a contact", lambda w: "/api/v1/contacts", lambda w: {"first_name": "New"}, Role.MEMBER),
    (
        "patch",
        "edit a deal",
        lambda w: f"/api/v1/deals/{w.ids['deal']}",
        lambda w: {"title": "T2"},
        Role.MEMBER,
    ),
    (
        "delete",
        "delete a company",
        lambda w: f"/api/v1/companies/{w.ids['company']}",
        lambda w: {},
        Role.MEMBER,
    ),
    (
        "post",
        "move a deal",
        lambda w: f"/api/v1/deals/{w.ids['deal']}/move",
        lambda w: {"stage": w.ids["stage"]},
        Role.MEMBER,
    ),
    ("post", "create a pipeline", lambda w: "/api/v1/pipelines", lambda w: {"name": "P2"}, Role.ADMIN),
    (
        "patch",
        "rename a stage",
        lambda w: f"/api/v1/stages/{w.ids['stage']}",
        lambda w: {"name": "S2"},
        Role.ADMIN,
    ),
    (
        "post",
        "define a custom field",
        lambda w: "/api/v1/custom-fields",
        lambda w: {"entity": "deal", "key": "size", "label": "Size", "field_type": "number"},
        Role.ADMIN,
    ),
    ("get", "list API tokens", lambda w: "/api/v1/tokens", lambda w: {}, Role.ADMIN),
    (
        "post",
        "create an API token",
        lambda w: "/api/v1/tokens",
        lambda w: {"name": "t", "role": "viewer"},
        Role.ADMIN,
    ),
    ("delete", "revoke an API token", lambda w: f"/api/v1/tokens/{w.ids['token']}", lambda w: {}, Role.ADMIN),
    (
        "patch",
        "change a member's role",
        lambda w: f"/api/v1/members/{w.ids['member']}",
        lambda w: {"role": "viewer"},
        Role.ADMIN,
    ),
    (
        "patch",
        "demote an owner",
        lambda w: f"/api/v1/members/{w.a_owner_user.pk}",
        lambda w: {"role": "admin"},
        Role.OWNER,
    ),
    (
        "patch",
        "rename the organization",
        lambda w: "/api/v1/organization",
        lambda w: {"name": "Renamed"},
        Role.OWNER,
    ),
]

RANKED = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]


@pytest.mark.parametrize(
    ("method", "label", "path", "body", "minimum"), ROLE_MATRIX, ids=[c[1] for c in ROLE_MATRIX]
)
def test_role_matrix(world: World, method, label, path, body, minimum: Role) -> None:
    # A second owner, so that demoting the first one is allowed for owners.
    make_member(world.a, Role.OWNER)
    for role in RANKED:
        client = token_client(make_token(world.a, role))
        before = tenant_fingerprint(world.a)
        data = body(world)
        response = getattr(client, method)(path(world), data or None, format="json")
        if RANKED.index(role) < RANKED.index(minimum):
            assert response.status_code == 403, (label, role, response.status_code, response.content[:300])
            assert tenant_fingerprint(world.a) == before, f"{label}: denied to {role} but data changed"
        else:
            assert response.status_code < 400, (label, role, response.status_code, response.content[:300])
            return  # allowed from here up (the effect happened once; higher roles need no re-run)
