"""Concurrent deletes, over every DELETE endpoint of the API (real PostgreSQL, committed data).

The URL resolver is walked: every pattern that serves DELETE needs a row in ``DELETES`` (how
to make a fresh object for it, and what deleting does), or this suite fails. For each one,
several threads delete the same object at once, then deletes race updates of it. The losers
of a race answer 404 (gone) or 409 (conflict), never 500; the object is deleted exactly once.
"""

from __future__ import annotations

import datetime
import io
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from django.db import connections
from django.db.models import Model
from django.urls import reverse
from rest_framework.test import APIClient

from stratus.accounts.models import ApiToken, Membership, Role
from stratus.accounts.services import token_create
from stratus.campaigns.models import Campaign, Segment, Suppression
from stratus.crm.models import Activity, Company, Contact, CustomField, Deal, Pipeline, Stage, TimelineEntry
from stratus.documents.models import Document
from stratus.reminders.models import Notification, Reminder, ReminderState
from stratus.reports.models import ExchangeRate
from tests.test_api_isolation import api_patterns
from tests.test_api_methods import BODIES
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6
ROUNDS = 3
_sequence = itertools.count(1)


class Organization:
    """One organization and an owner's token; objects are made through the API as that owner."""

    def __init__(self) -> None:
        self.org = make_organization("Race")
        membership = make_member(self.org, Role.OWNER)
        self.user = membership.user
        self.authorization = (
            "Bearer " + token_create(org=self.org, actor=self.user, name="race", role=Role.OWNER).secret
        )
        self.contact = self.post("/api/v1/contacts", {"first_name": "Ada", "email": "ada@race.example"})["id"]
        self.activity = self.post("/api/v1/activities", {"subject": "Call", "contact": self.contact})["id"]
        self.pipeline = self.post("/api/v1/pipelines", {"name": "Race pipeline"})["id"]

    def client(self) -> APIClient:
        client = APIClient(raise_request_exception=False)  # a crash is a 500 to assert on, as in production
        client.credentials(HTTP_AUTHORIZATION=self.authorization)
        return client

    def post(self, path: str, data: dict[str, Any], format: str = "json") -> dict[str, Any]:
        response = self.client().post(path, data, format=format)
        assert response.status_code in (200, 201), (path, response.status_code, response.content[:300])
        return response.json()

    def ids(self) -> dict[str, Any]:
        return {"contact": self.contact, "activity": self.activity, "pipeline": self.pipeline}


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def _document(o: Organization) -> int:
    pdf = io.BytesIO(b"%PDF-1.4\n% race\n%%EOF\n")
    pdf.name = "race.pdf"
    return o.post("/api/v1/documents/", {"contact": o.contact, "file": pdf}, format="multipart")["id"]


def _notification(o: Organization) -> int:
    return Notification.objects.create(organization=o.org, user=o.user, title="Due", read_at=None).pk


def _exchange_rate(o: Organization) -> int:
    # One rate per pair and day: each object gets a day of its own.
    day = datetime.date(2020, 1, 1) + datetime.timedelta(days=next(_sequence))
    body = {"currency": "USD", "currency_to": "EUR", "rate": "0.9", "valid_from": day.isoformat()}
    return o.post("/api/v1/exchange-rates", body)["id"]


REMOVES = "removes"  # the row is deleted: one 204, the others 404 (or 409)
REVOKES = "revokes"  # a token: every call 204 (revoking twice is harmless), revoked once
CANCELS = "cancels"  # a reminder: answered with its state, cancelled once
MARKS_UNREAD = "marks unread"  # the caller's notification: answered with its state


@dataclass(frozen=True)
class Delete:
    model: type[Model]
    make: Callable[[Organization], Any]
    effect: str = REMOVES


DELETES: dict[str, Delete] = {
    "api-member-detail": Delete(Membership, lambda o: make_member(o.org, Role.MEMBER).pk),
    "api-token-detail": Delete(
        ApiToken, lambda o: o.post("/api/v1/tokens", {"name": _unique("t"), "role": "viewer"})["id"], REVOKES
    ),
    "api-company-detail": Delete(
        Company, lambda o: o.post("/api/v1/companies", {"name": _unique("Co")})["id"]
    ),
    "api-contact-detail": Delete(
        Contact, lambda o: o.post("/api/v1/contacts", {"first_name": _unique("C")})["id"]
    ),
    "api-deal-detail": Delete(Deal, lambda o: o.post("/api/v1/deals", {"title": _unique("D")})["id"]),
    "api-activity-detail": Delete(
        Activity,
        lambda o: o.post("/api/v1/activities", {"subject": _unique("A"), "contact": o.contact})["id"],
    ),
    "api-pipeline-detail": Delete(
        Pipeline, lambda o: o.post("/api/v1/pipelines", {"name": _unique("Pipeline ")})["id"]
    ),
    "api-stage-detail": Delete(
        Stage, lambda o: o.post(f"/api/v1/pipelines/{o.pipeline}/stages", {"name": _unique("Stage ")})["id"]
    ),
    "api-custom-field-detail": Delete(
        CustomField,
        lambda o: o.post(
            "/api/v1/custom-fields",
            {"entity": "company", "key": _unique("k"), "label": "K", "field_type": "text"},
        )["id"],
    ),
    "documents:detail": Delete(Document, _document),
    "api-reminder-detail": Delete(
        Reminder,
        lambda o: o.post("/api/v1/reminders", {"activity": o.activity, "offset_minutes": 5})["id"],
        CANCELS,
    ),
    "api-notification-read": Delete(Notification, _notification, MARKS_UNREAD),
    "api-segment-detail": Delete(
        Segment, lambda o: o.post("/api/v1/segments", {"name": _unique("S"), "filters": {}})["id"]
    ),
    "api-campaign-detail": Delete(
        Campaign,
        lambda o: o.post("/api/v1/campaigns", {"name": _unique("C"), "subject": "Hi", "body_text": "Hello"})[
            "id"
        ],
    ),
    "api-suppression-detail": Delete(
        Suppression, lambda o: o.post("/api/v1/suppressions", {"email": f"{_unique('s')}@race.example"})["id"]
    ),
    "api-exchange-rate-detail": Delete(ExchangeRate, _exchange_rate),
}

ANSWERS = {
    REMOVES: {204, 404, 409},
    REVOKES: {204, 404, 409},
    CANCELS: {200, 404, 409},
    MARKS_UNREAD: {200, 404, 409},
}
UPDATE_ANSWERS = {200, 404, 409}


def _delete_patterns() -> list[Any]:
    return [pattern for pattern in api_patterns() if "delete" in pattern.methods]


def test_every_delete_endpoint_has_a_row() -> None:
    names = {pattern.name for pattern in _delete_patterns()}
    assert names - set(DELETES) == set(), f"new DELETE endpoints: add them to DELETES: {names - set(DELETES)}"
    assert set(DELETES) - names == set(), f"DELETES lists endpoints without DELETE: {set(DELETES) - names}"


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released together; each thread's database connection is closed."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # reported below, with the others' answers
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return results


def _statuses(results: list[Any]) -> list[int]:
    for result in results:
        assert not isinstance(result, BaseException), repr(result)
    return [result.status_code for result in results]


def _check_effect(name: str, row: Delete, pk: Any, deletes: list[int]) -> None:
    kind = row.model._meta.model_name
    if row.effect == REMOVES:
        assert deletes.count(204) == 1, (name, deletes)
        assert not row.model._default_manager.filter(pk=pk).exists(), (name, "still there")
        # Recorded once, where the model keeps a timeline.
        logged = TimelineEntry.objects.filter(target_type=kind, target_id=pk, action__endswith="deleted")
        assert logged.count() <= 1, (name, list(logged.values_list("action", flat=True)))
    elif row.effect == REVOKES:
        assert ApiToken.objects.get(pk=pk).revoked_at is not None
    elif row.effect == CANCELS:
        assert Reminder.objects.get(pk=pk).state == ReminderState.CANCELLED
    else:
        assert Notification.objects.get(pk=pk).read_at is None


def _path(pattern: Any, pk: Any) -> str:
    return reverse(pattern.name, kwargs={pattern.params[0]: pk})


@pytest.mark.parametrize("name", sorted(DELETES))
def test_concurrent_deletes_answer_204_404_or_409_and_delete_once(name: str) -> None:
    pattern = next(p for p in _delete_patterns() if p.name == name)
    row = DELETES[name]
    organization = Organization()
    for _ in range(ROUNDS):
        pk = row.make(organization)
        path = _path(pattern, pk)
        clients = [organization.client() for _ in range(THREADS)]
        deletes = _statuses(_at_once([partial(c.delete, path) for c in clients]))
        assert set(deletes) <= ANSWERS[row.effect], (name, deletes)
        _check_effect(name, row, pk, deletes)


@pytest.mark.parametrize("name", sorted(name for name in DELETES if (name, "patch") in BODIES))
def test_a_delete_racing_updates_answers_cleanly(name: str) -> None:
    pattern = next(p for p in _delete_patterns() if p.name == name)
    row = DELETES[name]
    organization = Organization()
    update = BODIES[(name, "patch")]
    for _ in range(ROUNDS):
        pk = row.make(organization)
        path = _path(pattern, pk)
        body = update(organization)  # type: ignore[arg-type]  # PATCH bodies read no ids
        half = THREADS // 2
        clients = [organization.client() for _ in range(THREADS)]
        calls: list[Callable[[], Any]] = [partial(c.delete, path) for c in clients[:half]]
        calls += [partial(c.patch, path, body, format="json") for c in clients[half:]]
        answers = _statuses(_at_once(calls))
        deletes, updates = answers[:half], answers[half:]
        assert set(deletes) <= ANSWERS[row.effect], (name, deletes)
        assert set(updates) <= UPDATE_ANSWERS, (name, updates)
        _check_effect(name, row, pk, deletes)
