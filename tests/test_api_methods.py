"""HTTP methods and roles, over every URL pattern of the API.

The URL resolver is walked, not a hand-written list of endpoints. ``ACCESS`` below is the one
table of what each pattern serves: for every pattern, the methods it allows and, per method,
the lowest role that may use it. A new pattern (or a new method on an old one) fails these
tests until it has its row here.

- The methods a pattern allows, found by sending each of GET, POST, PUT, PATCH and DELETE (a
  405 means "not allowed"), are exactly the methods ``/api/schema/`` documents for its path,
  and exactly the methods of its row. A 405 changes nothing.
- Every (pattern, method) pair is sent by a viewer, a member, an admin and an owner of the
  organization (and without credentials): each role below the row's minimum gets 403, and the
  organization's rows are unchanged after every refusal; each role at or above it gets past
  the permission check.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse
from rest_framework.test import APIClient

from stratus.accounts.models import Role
from tests.test_api_isolation import OBJECTS, World, api_patterns, tenant_fingerprint
from tests.test_api_isolation import _walk as walk
from testsupport.factories import make_member, make_token, make_user, token_client

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
RANKED = (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)

# Who may call a method, when it is not an organization role.
PUBLIC = "public"  # no credentials needed
USER = "user"  # any signed-in user or token, whatever the role
SIGNED = "signed"  # authorised by a signed token in the URL, not by credentials
SESSION = "session"  # any signed-in browser session, whatever the role; API tokens are refused (403)

VIEWER, MEMBER, ADMIN, OWNER = Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER

ACCESS: dict[str, dict[str, str]] = {
    # platform and schema
    "api-health": {"get": PUBLIC},
    "api-schema": {"get": PUBLIC},
    "api-docs": {"get": PUBLIC},
    "api-redoc": {"get": PUBLIC},
    # accounts
    "api-signup": {"post": PUBLIC},
    "api-signup-confirm": {"post": PUBLIC},
    "api-login": {"post": PUBLIC},
    "api-logout": {"post": USER},
    "api-me": {"get": USER, "patch": SESSION},
    "api-organization": {"get": VIEWER, "patch": OWNER},
    "api-organization-leave": {"post": SESSION},
    "api-invitation-list": {"get": ADMIN, "post": ADMIN},
    "api-invitation-detail": {"get": ADMIN},
    "api-invitation-resend": {"post": ADMIN},
    "api-invitation-revoke": {"post": ADMIN},
    "api-invitation-inspect": {"post": PUBLIC},
    "api-invitation-signup": {"post": PUBLIC},
    "api-invitation-accept": {"post": SESSION},
    "api-member-list": {"get": VIEWER, "post": ADMIN},
    "api-member-detail": {"get": VIEWER, "patch": ADMIN, "delete": ADMIN},
    "api-token-list": {"get": ADMIN, "post": ADMIN},
    "api-token-detail": {"get": ADMIN, "delete": ADMIN},
    # records
    "api-company-list": {"get": VIEWER, "post": MEMBER},
    "api-company-detail": {"get": VIEWER, "put": MEMBER, "patch": MEMBER, "delete": MEMBER},
    "api-company-timeline": {"get": VIEWER},
    "api-contact-list": {"get": VIEWER, "post": MEMBER},
    "api-contact-detail": {"get": VIEWER, "put": MEMBER, "patch": MEMBER, "delete": MEMBER},
    "api-contact-timeline": {"get": VIEWER},
    "api-deal-list": {"get": VIEWER, "post": MEMBER},
    "api-deal-detail": {"get": VIEWER, "put": MEMBER, "patch": MEMBER, "delete": MEMBER},
    "api-deal-move": {"post": MEMBER},
    "api-deal-timeline": {"get": VIEWER},
    "api-activity-list": {"get": VIEWER, "post": MEMBER},
    "api-activity-detail": {"get": VIEWER, "put": MEMBER, "patch": MEMBER, "delete": MEMBER},
    "api-activity-timeline": {"get": VIEWER},
    "api-tag-list": {"get": VIEWER},
    "api-timeline": {"get": VIEWER},
    # configuration
    "api-pipeline-list": {"get": VIEWER, "post": ADMIN},
    "api-pipeline-detail": {"get": VIEWER, "patch": ADMIN, "delete": ADMIN},
    "api-pipeline-stages": {"post": ADMIN},
    "api-pipeline-timeline": {"get": VIEWER},
    "api-stage-detail": {"get": VIEWER, "patch": ADMIN, "delete": ADMIN},
    "api-custom-field-list": {"get": VIEWER, "post": ADMIN},
    "api-custom-field-detail": {"get": VIEWER, "patch": ADMIN, "delete": ADMIN},
    # documents
    "documents:list": {"get": VIEWER, "post": MEMBER},
    "documents:upload-start": {"post": MEMBER},
    "documents:detail": {"get": VIEWER, "patch": MEMBER, "delete": MEMBER},
    "documents:finish": {"post": MEMBER},
    "documents:download": {"get": VIEWER},
    "documents:download-url": {"get": VIEWER},
    "documents:local-upload": {"post": SIGNED},
    "documents:local-download": {"get": SIGNED},
    # reminders and the caller's own notifications
    "api-reminder-list": {"get": VIEWER, "post": MEMBER},
    "api-reminder-detail": {"get": VIEWER, "patch": MEMBER, "delete": MEMBER},
    "api-notification-list": {"get": VIEWER},
    "api-notification-unread": {"get": VIEWER},
    "api-notification-read": {"post": VIEWER, "delete": VIEWER},
    "api-notification-read-all": {"post": VIEWER},
    "api-notification-prefs": {"get": VIEWER, "put": VIEWER},
    "api-realtime-tickets": {"post": VIEWER},
    # campaigns
    "api-segment-list": {"get": VIEWER, "post": MEMBER},
    "api-segment-preview": {"post": VIEWER},
    "api-segment-detail": {"get": VIEWER, "patch": MEMBER, "delete": MEMBER},
    "api-segment-members": {"get": VIEWER},
    "api-campaign-list": {"get": VIEWER, "post": MEMBER},
    "api-campaign-detail": {"get": VIEWER, "patch": MEMBER, "delete": MEMBER},
    "api-campaign-send": {"post": MEMBER},
    "api-campaign-pause": {"post": MEMBER},
    "api-campaign-resume": {"post": MEMBER},
    "api-campaign-cancel": {"post": MEMBER},
    "api-campaign-preview": {"post": VIEWER},
    "api-campaign-stats": {"get": VIEWER},
    "api-campaign-recipients": {"get": VIEWER},
    "api-suppression-list": {"get": VIEWER, "post": MEMBER},
    "api-suppression-detail": {"delete": ADMIN},
    # imports and exports
    "api-import-list": {"get": VIEWER, "post": MEMBER},
    "api-import-analyse": {"post": MEMBER},
    "api-import-detail": {"get": VIEWER},
    "api-import-cancel": {"post": MEMBER},
    "api-import-errors": {"get": VIEWER},
    "api-export-contacts": {"get": VIEWER},
    "api-export-companies": {"get": VIEWER},
    "api-export-deals": {"get": VIEWER},
    # reports
    "api-report-funnel": {"get": VIEWER},
    "api-report-velocity": {"get": VIEWER},
    "api-report-won-lost": {"get": VIEWER},
    "api-report-forecast": {"get": VIEWER},
    "api-report-activity": {"get": VIEWER},
    "api-report-campaigns": {"get": VIEWER},
    "api-exchange-rate-list": {"get": VIEWER, "post": ADMIN},
    "api-exchange-rate-detail": {"get": VIEWER, "patch": ADMIN, "delete": ADMIN},
    "api-search": {"get": VIEWER},
    "api-export-job-list": {"post": VIEWER},
    "api-export-job-detail": {"get": VIEWER},
    "api-export-job-download": {"get": VIEWER},
}

# Patterns the OpenAPI document leaves out, with the reason (their methods are still checked).
UNDOCUMENTED = {
    "api-health": "readiness probe for load balancers, not part of the API contract",
    "api-schema": "the OpenAPI document itself",
    "api-docs": "Swagger UI page",
    "api-redoc": "ReDoc page",
    "documents:local-upload": "the embedded default's stand-in for a presigned S3 POST",
    "documents:local-download": "the embedded default's stand-in for a presigned S3 GET",
}


# --- request bodies: valid input, so an allowed role's call does what it says ------------------


def _pdf(w: World) -> io.BytesIO:
    pdf = io.BytesIO(b"%PDF-1.4\n% roles\n%%EOF\n")
    pdf.name = "roles.pdf"
    return pdf


def _csv(w: World) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", b"Name,Email\nRoles,roles@a.example\n")


def _login(w: World) -> dict[str, Any]:
    user = make_user("login")
    user.set_password("correct horse battery staple")
    user.save()
    return {"email": user.email, "password": "correct horse battery staple"}


_sequence = itertools.count(1)

Body = Callable[[World], dict[str, Any]]
MULTIPART = "multipart"

BODIES: dict[tuple[str, str], Body] = {
    ("api-signup", "post"): lambda w: {
        "email": f"new{next(_sequence)}@signup.example",
        "password": "correct horse battery staple",
        "full_name": "New Person",
        "organization_name": "New organization",
    },
    ("api-login", "post"): _login,
    ("api-organization", "patch"): lambda w: {"name": "Renamed"},
    ("api-member-list", "post"): lambda w: {"email": make_user("join").email, "role": "viewer"},
    ("api-me", "patch"): lambda w: {"default_organization": w.a.slug},
    ("api-invitation-list", "post"): lambda w: {
        "email": f"invited{next(_sequence)}@a.example",
        "role": "viewer",
    },
    ("api-invitation-inspect", "post"): lambda w: {"token": "not-a-link-token"},
    ("api-invitation-signup", "post"): lambda w: {
        "token": "not-a-link-token",
        "password": "correct horse battery staple",
        "full_name": "New Person",
    },
    ("api-invitation-accept", "post"): lambda w: {"token": "not-a-link-token"},
    ("api-signup-confirm", "post"): lambda w: {"token": "not-a-link-token"},
    ("api-member-detail", "patch"): lambda w: {"role": "viewer"},
    ("api-token-list", "post"): lambda w: {"name": "t", "role": "viewer"},
    ("api-company-list", "post"): lambda w: {"name": "New company"},
    ("api-company-detail", "put"): lambda w: {"name": "Put company"},
    ("api-company-detail", "patch"): lambda w: {"name": "Patched company"},
    ("api-contact-list", "post"): lambda w: {"first_name": "New"},
    ("api-contact-detail", "put"): lambda w: {"first_name": "Put"},
    ("api-contact-detail", "patch"): lambda w: {"first_name": "Patched"},
    ("api-deal-list", "post"): lambda w: {"title": "New deal"},
    ("api-deal-detail", "put"): lambda w: {"title": "Put deal"},
    ("api-deal-detail", "patch"): lambda w: {"title": "Patched deal"},
    ("api-deal-move", "post"): lambda w: {"stage": w.ids["stage"]},
    ("api-activity-list", "post"): lambda w: {"subject": "Call", "contact": w.ids["contact"]},
    ("api-activity-detail", "put"): lambda w: {"subject": "Put call", "contact": w.ids["contact"]},
    ("api-activity-detail", "patch"): lambda w: {"subject": "Patched call"},
    ("api-pipeline-list", "post"): lambda w: {"name": "Second pipeline"},
    ("api-pipeline-detail", "patch"): lambda w: {"name": "Renamed pipeline"},
    ("api-pipeline-stages", "post"): lambda w: {"name": "Extra stage"},
    ("api-stage-detail", "patch"): lambda w: {"name": "Renamed stage"},
    ("api-custom-field-list", "post"): lambda w: {
        "entity": "deal",
        "key": "size",
        "label": "Size",
        "field_type": "number",
    },
    ("api-custom-field-detail", "patch"): lambda w: {"label": "Renamed"},
    ("documents:list", "post"): lambda w: {"contact": w.ids["contact"], "file": _pdf(w)},
    ("documents:upload-start", "post"): lambda w: {
        "contact": w.ids["contact"],
        "name": "big.pdf",
        "size": 20,
        "content_type": "application/pdf",
        "sha256": "0" * 64,
    },
    ("documents:detail", "patch"): lambda w: {"name": "renamed.pdf"},
    ("api-reminder-list", "post"): lambda w: {"activity": w.ids["activity"], "offset_minutes": 10},
    ("api-reminder-detail", "patch"): lambda w: {"note": "patched"},
    ("api-notification-prefs", "put"): lambda w: {"email_reminders": False},
    ("api-segment-list", "post"): lambda w: {"name": "New segment", "filters": {"tags": ["vip"]}},
    ("api-segment-preview", "post"): lambda w: {"filters": {"tags": ["vip"]}},
    ("api-segment-detail", "patch"): lambda w: {"name": "Renamed segment"},
    ("api-campaign-list", "post"): lambda w: {"name": "New", "subject": "Hi", "body_text": "Hello"},
    ("api-campaign-detail", "patch"): lambda w: {"subject": "Patched"},
    ("api-campaign-preview", "post"): lambda w: {"contact": w.ids["contact"]},
    ("api-suppression-list", "post"): lambda w: {"email": "nobody@a.example"},
    ("api-import-list", "post"): lambda w: {"file": _csv(w), "kind": "contacts"},
    ("api-import-analyse", "post"): lambda w: {"file": _csv(w), "kind": "contacts"},
    ("api-exchange-rate-list", "post"): lambda w: {
        "currency": "GBP",
        "currency_to": "EUR",
        "rate": "1.1675",
        "valid_from": f"2026-02-{next(_sequence) % 28 + 1:02d}",
    },
    ("api-exchange-rate-detail", "patch"): lambda w: {"rate": "0.95"},
    ("api-export-job-list", "post"): lambda w: {"kind": "contacts", "filters": {"q": "roles"}},
}
MULTIPART_BODIES = {("documents:list", "post"), ("api-import-list", "post"), ("api-import-analyse", "post")}

# Pairs whose allowed roles cannot succeed against the test organization, with the reason; every
# other pair must succeed (status below 400) for at least one allowed role.
NO_SUCCESS = {
    ("api-invitation-inspect", "post"): "needs the token of an e-mailed link (accounts tests): 404",
    ("api-invitation-signup", "post"): "needs the token of an e-mailed link (accounts tests): 404",
    ("api-invitation-accept", "post"): "needs the token of an e-mailed link (accounts tests): 404",
    ("api-signup-confirm", "post"): "needs the token of an e-mailed link (accounts tests): 404",
    ("api-campaign-pause", "post"): "the campaign is a draft: 409 invalid_state",
    ("api-campaign-resume", "post"): "the campaign is a draft: 409 invalid_state",
    ("api-reminder-detail", "get"): "a reminder is its creator's: another user's answers 404",
    ("api-reminder-detail", "patch"): "a reminder is its creator's: another user's answers 404",
    ("api-reminder-detail", "delete"): "a reminder is its creator's: another user's answers 404",
    ("api-notification-read", "post"): "a notification is its user's: another user's answers 404",
    ("api-notification-read", "delete"): "a notification is its user's: another user's answers 404",
    ("api-pipeline-detail", "delete"): "the pipeline holds the test deal: 409 protected",
    ("api-stage-detail", "delete"): "the stage holds the test deal: 400 asks where to move it",
    ("documents:finish", "post"): "the document was uploaded in one request: nothing to finish (409)",
    ("documents:local-upload", "post"): "needs a signed upload URL (documents tests)",
    ("documents:local-download", "get"): "needs a signed download URL (documents tests)",
    ("api-export-job-detail", "get"): "an export is its starter's: another member's answers 404",
    ("api-export-job-download", "get"): "an export is its starter's: another member's answers 404",
}


# --- helpers ----------------------------------------------------------------------------------


def _schema_key(path: str) -> str:
    """A path with its parameters blanked: Django's ``<int:pk>`` and OpenAPI's ``{id}`` agree."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


# Query strings a GET needs to succeed (search by words: by meaning needs the index; knowledge tests).
QUERIES = {"api-search": "?q=renewal&mode=words"}


def _path(world: World, name: str, params: tuple[str, ...]) -> str:
    if not params:
        return reverse(name) + QUERIES.get(name, "")
    if SIGNED in ACCESS.get(name, {}).values():
        return reverse(name, kwargs={params[0]: "not-a-valid-signature"})
    return reverse(name, kwargs={params[0]: world.ids[OBJECTS[name]]})


def _send(client: APIClient, world: World, name: str, method: str, path: str) -> Any:
    body_of = BODIES.get((name, method))
    body = body_of(world) if body_of else {}
    if method in ("get", "delete"):
        return getattr(client, method)(path)
    if (name, method) in MULTIPART_BODIES:
        return getattr(client, method)(path, body, format=MULTIPART)
    return getattr(client, method)(path, body, format="json")


def _start(response: Any) -> bytes:
    """The first bytes of a response's body, for assertion messages (streamed bodies stay unread)."""
    return b"<streamed>" if getattr(response, "streaming", False) else bytes(response.content[:300])


def _served_methods(client: APIClient, world: World, name: str, path: str) -> set[str]:
    """The methods the server allows on ``path``: all but those answered 405, which change nothing."""
    allowed = set()
    for method in METHODS:
        before = tenant_fingerprint(world.a)
        response = getattr(client, method)(path)
        if response.status_code == 405:
            assert tenant_fingerprint(world.a) == before, f"{method.upper()} {path}: 405 but data changed"
            assert "Allow" in response, (method, path)
        else:
            allowed.add(method)
    return allowed


@pytest.fixture
def world() -> World:
    built = World()
    built.build()
    return built


# --- the table covers the resolver ------------------------------------------------------------


def test_every_pair_has_a_row() -> None:
    names = {pattern.name for pattern in api_patterns()}
    missing = sorted(names - set(ACCESS))
    assert not missing, f"new API patterns: give each a row in ACCESS (methods and roles): {missing}"
    stale = sorted(set(ACCESS) - names)
    assert not stale, f"ACCESS lists patterns that no longer exist: {stale}"
    for route, name, callback in walk(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if name not in ACCESS or view_class is None:
            continue  # function views: their methods are found by sending requests, below
        served = {m.lower() for m in view_class(**getattr(callback, "view_initkwargs", {})).allowed_methods}
        unlisted = sorted((served & set(METHODS)) - set(ACCESS[name]))
        assert not unlisted, f"{route} serves {unlisted}, which ACCESS does not list (with their roles)"
    assert set(UNDOCUMENTED) <= set(ACCESS)
    for (name, method), _ in [*BODIES.items(), *((key, None) for key in NO_SUCCESS)]:
        assert method in ACCESS.get(name, {}), f"BODIES/NO_SUCCESS name a pair ACCESS lacks: {name} {method}"


def test_each_pattern_serves_exactly_its_documented_methods(world: World) -> None:
    schema = APIClient().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    documented = {
        _schema_key(path): {m for m in operations if m in METHODS}
        for path, operations in schema.json()["paths"].items()
    }
    checked = 0
    for pattern in api_patterns():
        owner = token_client(make_token(world.a, Role.OWNER))  # a token each: no rate limit
        path = _path(world, pattern.name, pattern.params)
        served = _served_methods(owner, world, pattern.name, path)
        key = _schema_key("/" + pattern.route)
        if pattern.name in UNDOCUMENTED:
            assert key not in documented, f"{pattern.route} is documented: remove it from UNDOCUMENTED"
        else:
            assert documented.get(key) == served, (
                f"{pattern.route}: the server allows {sorted(served)}, "
                f"the schema documents {sorted(documented.get(key, set()))}"
            )
        assert served == set(ACCESS[pattern.name]), (
            f"{pattern.route}: the server allows {sorted(served)}, ACCESS says {sorted(ACCESS[pattern.name])}"
        )
        checked += 1
    assert checked == len(ACCESS)


# --- the role matrix --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    name: str
    method: str
    rule: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


PAIRS = [Pair(name, method, rule) for name, methods in ACCESS.items() for method, rule in methods.items()]


def _unchanged(world: World, before: str, who: str, pair: Pair) -> None:
    assert tenant_fingerprint(world.a) == before, f"{pair} refused to {who} but data changed"


@pytest.mark.parametrize("pair", PAIRS, ids=str)
def test_role_matrix(world: World, pair: Pair) -> None:
    route = next(p for p in api_patterns() if p.name == pair.name)
    path = _path(world, pair.name, route.params)
    clients = {role: token_client(make_token(world.a, role)) for role in RANKED}

    before = tenant_fingerprint(world.a)
    anonymous = _send(APIClient(), world, pair.name, pair.method, path)
    if pair.rule == PUBLIC:
        assert anonymous.status_code not in (401, 403, 405), (str(pair), anonymous.status_code)
        assert anonymous.status_code < 500, (str(pair), _start(anonymous))
    elif pair.rule == SIGNED:
        assert anonymous.status_code in (400, 403, 404), (str(pair), anonymous.status_code)
        _unchanged(world, before, "a forged signature", pair)
    else:
        assert anonymous.status_code == 401, (str(pair), anonymous.status_code, _start(anonymous))
        _unchanged(world, before, "anonymous", pair)

    succeeded = pair.rule == PUBLIC and anonymous.status_code < 400
    if pair.rule == SESSION:
        for role in RANKED:
            before = tenant_fingerprint(world.a)
            response = _send(clients[role], world, pair.name, pair.method, path)
            assert response.status_code == 403, (str(pair), role.value, response.status_code)
            _unchanged(world, before, f"a {role.value} token", pair)
        session = APIClient()
        session.force_login(make_member(world.a, Role.VIEWER).user)
        response = _send(session, world, pair.name, pair.method, path)
        detail = (str(pair), "viewer session", response.status_code, _start(response))
        assert response.status_code not in (401, 403, 405), detail
        assert response.status_code < 500, detail
        if (pair.name, pair.method) not in NO_SUCCESS:
            assert response.status_code < 400, detail
        return
    for role in RANKED:
        before = tenant_fingerprint(world.a)
        response = _send(clients[role], world, pair.name, pair.method, path)
        detail = (str(pair), role.value, response.status_code, _start(response))
        if pair.rule == SIGNED:
            assert response.status_code in (400, 403, 404), detail
            _unchanged(world, before, role.value, pair)
        elif pair.rule in (PUBLIC, USER) or RANKED.index(role) >= RANKED.index(Role(pair.rule)):
            assert response.status_code not in (401, 403, 405), detail
            assert response.status_code < 500, detail
            succeeded = succeeded or response.status_code < 400
        else:
            assert response.status_code == 403, detail
            _unchanged(world, before, role.value, pair)
    if (pair.name, pair.method) not in NO_SUCCESS:
        assert succeeded, f"{pair}: no allowed role succeeded; fix its body or say why in NO_SUCCESS"
