"""GET /api/v1/search: modes, filters, errors, and tenant isolation through the API."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from prometheus_client import CollectorRegistry
from rest_framework.test import APIClient

from stratus.accounts.models import Organization, Role
from stratus.crm.models import Activity, Company, Deal
from stratus.knowledge import services
from stratus.knowledge.store import store
from stratus.monitoring.collector import WorkCollector
from stratus.platform import health
from testsupport.factories import make_member
from testsupport.search import index_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("qdrant_in_tmp")]

COMPLAINT = "Dana said that getting the team set up on our tool dragged on for two months."


def _search(client: APIClient, **params: Any) -> Any:
    return client.get("/api/v1/search", params)


def test_search_by_meaning_words_and_both(
    organization: Organization, api_client: Callable[..., APIClient]
) -> None:
    company = Company.objects.create(organization=organization, name="Acme Freight")
    note = Activity.objects.create(
        organization=organization, company=company, kind="note", subject="Call with Dana", body=COMPLAINT
    )
    Deal.objects.create(
        organization=organization,
        title="Acme onboarding package",
        pipeline=organization_pipeline(organization),
        stage=organization_pipeline(organization).stages.first(),
    )
    index_pending()
    client = api_client(Role.VIEWER)

    meaning = _search(client, q="who complained about onboarding speed?", mode="meaning")
    assert meaning.status_code == 200, meaning.content
    results = meaning.json()["results"]
    assert {r["record"]["type"] for r in results[:2]} == {
        "activity",
        "deal",
    }  # the note and the onboarding deal
    first = next(r for r in results if r["record"]["type"] == "activity")
    assert first["record"] == {
        "type": "activity",
        "id": note.pk,
        "title": "Call with Dana",
        "url": f"/companies/{company.pk}",
    }
    assert COMPLAINT in first["text"]
    assert first["matched_by"] == ["meaning"]

    words = _search(client, q="onboarding", mode="words")
    assert [r["record"]["type"] for r in words.json()["results"]] == ["deal"]

    both = _search(client, q="onboarding", mode="both")
    found = {(r["record"]["type"], r["record"]["id"]) for r in both.json()["results"]}
    assert ("activity", note.pk) in found
    assert any(r["record"]["type"] == "deal" and "words" in r["matched_by"] for r in both.json()["results"])

    only_deals = _search(client, q="who complained about onboarding speed?", mode="meaning", type="deal")
    assert {r["record"]["type"] for r in only_deals.json()["results"]} == {"deal"}


def organization_pipeline(organization: Organization) -> Any:
    from stratus.crm.models import Pipeline

    pipeline = Pipeline.objects.filter(organization=organization).first()
    if pipeline is None:
        from stratus.crm import services as crm_services

        pipeline = crm_services.pipeline_create(
            org=organization, actor=make_member(organization, Role.OWNER).user, name="Sales"
        )
    return pipeline


def test_owner_and_date_filters(organization: Organization, api_client: Callable[..., APIClient]) -> None:
    member = make_member(organization, Role.MEMBER).user
    company = Company.objects.create(organization=organization, name="Initech")
    mine = Activity.objects.create(
        organization=organization, company=company, subject="Renewal", body=COMPLAINT, assignee=member
    )
    Activity.objects.create(organization=organization, company=company, subject="Renewal", body=COMPLAINT)
    index_pending()
    client = api_client(Role.VIEWER)
    owned = _search(client, q="slow setup", mode="meaning", owner=member.pk)
    assert [(r["record"]["type"], r["record"]["id"]) for r in owned.json()["results"]] == [
        ("activity", mine.pk)
    ]
    future = _search(client, q="slow setup", mode="meaning", date_from="2999-01-01")
    assert future.json()["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "x", "mode": "vibes"}, "mode"),
        ({"q": "x", "type": "planet"}, "type"),
        ({"q": "x", "owner": "me"}, "owner"),
        ({"q": "x", "date_from": "yesterday"}, "date_from"),
        ({"q": "x", "date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_to"),
        ({"q": "x", "limit": "500"}, "limit"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    api_client: Callable[..., APIClient], params: dict[str, str], field: str
) -> None:
    response = _search(api_client(Role.VIEWER), **params)
    assert response.status_code == 400
    assert field in response.content.decode()


def test_same_text_in_two_organizations_through_the_api(
    organization: Organization, other_organization: Organization, api_client: Callable[..., APIClient]
) -> None:
    text = "Renewal terms: the contract renews yearly unless cancelled ninety days ahead."
    mine = Company.objects.create(organization=organization, name="Hooli", description=text)
    theirs = Company.objects.create(organization=other_organization, name="Hooli", description=text)
    index_pending()
    for org, own in ((organization, mine), (other_organization, theirs)):
        for mode, query in (("meaning", "contract renewal terms"), ("words", "Hooli"), ("both", "Hooli")):
            response = _search(api_client(Role.VIEWER, org=org), q=query, mode=mode, limit=50)
            ids = {(r["record"]["type"], r["record"]["id"]) for r in response.json()["results"]}
            assert ids == {("company", own.pk)}, (org.name, mode, ids)


def test_backlog_gauge_and_readiness(organization: Organization, settings: Any) -> None:
    for number in range(3):
        Company.objects.create(organization=organization, name=f"Company {number}")
    registry = CollectorRegistry()
    registry.register(WorkCollector())
    assert registry.get_sample_value("stratus_search_index_backlog") == 3
    settings.SEARCH_BACKLOG_DEGRADED = 2
    _, body = health.readiness()
    assert body["checks"]["search_index"]["status"] == "degraded"
    index_pending()
    assert registry.get_sample_value("stratus_search_index_backlog") == 0
    _, body = health.readiness()
    assert body["checks"]["search_index"]["status"] == "ok"


def test_reindex_fills_a_new_collection_and_switches_the_alias(organization: Organization) -> None:
    company = Company.objects.create(organization=organization, name="Vandelay", description=COMPLAINT)
    index_pending()
    before, _ = store().collections()
    # Points lost behind the index's back (writes under replica mode): the rebuild restores them.
    assert before is not None
    store().delete_organization(before, organization.pk)
    call_command("search_reindex", "--no-progress", stdout=io.StringIO())
    after, building = store().collections()
    assert after is not None
    assert after != before
    assert building is None
    assert not (Path(services.settings.QDRANT_PATH) / before).exists()
    assert store().count(after, organization.pk) == 1
    assert company.pk

    store().delete_organization(after, organization.pk)
    call_command("search_reindex", "--org", str(organization.pk), "--no-progress", stdout=io.StringIO())
    assert store().collections()[0] == after
    assert store().count(after, organization.pk) == 1
