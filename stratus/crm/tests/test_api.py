"""The CRM REST API: CRUD, move, filters, cross-organization references, query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers as drf

from stratus.accounts.models import Membership, Role
from stratus.crm import api as crm_api
from stratus.crm import selectors, services
from stratus.crm.models import Activity, Company, Contact, Deal, Stage, Tag, TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(organization):
    return Membership.objects.get(organization=organization, role=Role.OWNER).user


@pytest.fixture
def pipeline(organization, owner):
    return services.pipeline_create(org=organization, actor=owner, name="Sales")


def test_company_crud_round_trip(api_client, organization) -> None:
    client = api_client(Role.MEMBER)
    created = client.post("/api/v1/companies", {"name": "Initech", "tags": ["VIP"]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == f"/api/v1/companies/{body['id']}"
    assert body["tags"] == ["VIP"]
    url = f"/api/v1/companies/{body['id']}"
    assert client.patch(url, {"city": "Berlin"}, format="json").json()["city"] == "Berlin"
    replaced = client.put(url, {"name": "Initrode"}, format="json").json()
    assert (replaced["name"], replaced["city"], replaced["tags"]) == ("Initrode", "", [])
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert [e.action for e in TimelineEntry.objects.filter(target_type="company").order_by("id")] == [
        "created",
        "updated",
        "updated",
        "deleted",
    ]


def test_deal_move_returns_the_updated_deal(api_client, organization, pipeline) -> None:
    client = api_client(Role.MEMBER)
    deal = client.post("/api/v1/deals", {"title": "Big", "value": "1200.00"}, format="json").json()
    lost = Stage.objects.get(pipeline=pipeline, kind="lost")
    response = client.post(f"/api/v1/deals/{deal['id']}/move", {"stage": lost.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lost_reason"
    assert Deal.objects.get(pk=deal["id"]).stage_id == deal["stage"]
    response = client.post(
        f"/api/v1/deals/{deal['id']}/move", {"stage": lost.pk, "lost_reason": "price"}, format="json"
    )
    assert response.status_code == 200
    moved = response.json()
    assert (moved["stage"], moved["lost_reason"]) == (lost.pk, "price")
    assert moved["closed_at"] is not None
    timeline = client.get(f"/api/v1/deals/{deal['id']}/timeline").json()["results"]
    assert timeline[0]["action"] == "moved"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/v1/contacts", {"first_name": "A", "company": "OTHER_COMPANY"}, "company"),
        ("/api/v1/deals", {"title": "D", "stage": "OTHER_STAGE"}, "stage"),
        ("/api/v1/deals", {"title": "D", "contacts": ["OTHER_CONTACT"]}, "contacts"),
        # Tags are named, never referenced by id: another organization's tag id is refused.
        ("/api/v1/deals", {"title": "D", "tags": ["OTHER_TAG"]}, "tags.0"),
        ("/api/v1/activities", {"subject": "S", "contact": "OTHER_CONTACT"}, "contact"),
        ("/api/v1/contacts", {"first_name": "A", "owner": "OTHER_USER"}, "owner"),
    ],
)
def test_references_to_another_organization_are_refused(
    api_client, organization, other_organization, pipeline, path, payload, field
) -> None:
    other_owner = Membership.objects.get(organization=other_organization, role=Role.OWNER).user
    other_pipeline = services.pipeline_create(org=other_organization, actor=other_owner, name="Theirs")
    others = {
        "OTHER_COMPANY": services.company_create(org=other_organization, actor=other_owner, name="X").pk,
        "OTHER_STAGE": other_pipeline.stages.order_by("position")[0].pk,
        "OTHER_CONTACT": services.contact_create(
            org=other_organization, actor=other_owner, first_name="Y"
        ).pk,
        "OTHER_USER": other_owner.pk,
        "OTHER_TAG": Tag.objects.create(organization=other_organization, name="theirs").pk,
    }
    resolved = {
        k: ([others[i] for i in v] if isinstance(v, list) else others.get(v, v)) for k, v in payload.items()
    }
    counts = [m.objects.count() for m in (Company, Contact, Deal, Activity, Tag)]
    response = api_client(Role.MEMBER).post(path, resolved, format="json")
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert [m.objects.count() for m in (Company, Contact, Deal, Activity, Tag)] == counts
    assert not Tag.objects.filter(organization=other_organization, deals__isnull=False).exists()


def test_deal_tags_are_written_read_and_filtered_like_contacts(
    api_client, organization, other_organization, owner, pipeline
) -> None:
    client = api_client(Role.MEMBER)
    services.contact_create(org=organization, actor=owner, first_name="Ann", tags=["VIP"])
    big = client.post("/api/v1/deals", {"title": "Big", "tags": ["vip", "Renewal"]}, format="json")
    assert big.status_code == 201, big.content
    # The organization's existing tag (its spelling), names in name order, as contacts show them.
    assert big.json()["tags"] == ["Renewal", "VIP"]
    small = client.post("/api/v1/deals", {"title": "Small", "tags": ["renewal"]}, format="json").json()
    plain = client.post("/api/v1/deals", {"title": "Plain"}, format="json").json()
    assert (small["tags"], plain["tags"]) == (["Renewal"], [])
    assert Tag.objects.filter(organization=organization).count() == 2

    patched = client.patch(f"/api/v1/deals/{small['id']}", {"tags": ["hot", "renewal"]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["tags"] == ["Renewal", "hot"]  # the existing tag keeps its spelling
    assert client.get(f"/api/v1/deals/{plain['id']}").json()["tags"] == []
    timeline = client.get(f"/api/v1/deals/{small['id']}/timeline").json()["results"]
    assert timeline[0]["changes"]["tags"] == {"old": ["Renewal"], "new": ["Renewal", "hot"]}

    other_owner = Membership.objects.get(organization=other_organization, role=Role.OWNER).user
    services.pipeline_create(org=other_organization, actor=other_owner, name="Theirs")
    services.deal_create(org=other_organization, actor=other_owner, title="Theirs", tags=["vip", "hot"])

    def titles(query: str) -> list[str]:
        response = client.get(f"/api/v1/deals?ordering=created_at&{query}")
        assert response.status_code == 200, response.content
        return [d["title"] for d in response.json()["results"]]

    assert titles("tag=VIP") == ["Big"]
    assert titles("tag=renewal") == ["Big", "Small"]
    assert titles("tag=renewal&tag=hot") == ["Small"]
    assert titles("tags=renewal,vip") == ["Big"]
    assert titles("tags_any=vip,hot") == ["Big", "Small"]
    assert titles("tag=nothing") == []
    assert titles("tags_any=nothing") == []
    refused = client.get("/api/v1/deals?tag=,")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "tag"

    too_long = client.patch(f"/api/v1/deals/{plain['id']}", {"tags": ["x" * 61]}, format="json")
    assert too_long.status_code == 400
    assert [e["field"] for e in too_long.json()["errors"]] == ["tags"]
    assert client.get(f"/api/v1/deals/{plain['id']}").json()["tags"] == []


def test_filters_ordering_and_search(api_client, organization, owner) -> None:
    client = api_client(Role.VIEWER)
    acme = services.company_create(org=organization, actor=owner, name="Acme")
    services.contact_create(
        org=organization, actor=owner, first_name="Zoe", last_name="Adams", company=acme, tags=["vip"]
    )
    services.contact_create(
        org=organization, actor=owner, first_name="Al", last_name="Brown", email="al@brown.example"
    )
    names = [c["last_name"] for c in client.get("/api/v1/contacts?ordering=name").json()["results"]]
    assert names == ["Adams", "Brown"]
    assert [c["last_name"] for c in client.get("/api/v1/contacts?tag=vip").json()["results"]] == ["Adams"]
    assert [c["last_name"] for c in client.get(f"/api/v1/contacts?company={acme.pk}").json()["results"]] == [
        "Adams"
    ]
    assert [c["last_name"] for c in client.get("/api/v1/contacts?q=brown").json()["results"]] == ["Brown"]
    response = client.get("/api/v1/contacts?colour=red")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "colour"


def test_viewer_reads_but_cannot_write(api_client, organization, owner) -> None:
    viewer = api_client(Role.VIEWER)
    assert viewer.get("/api/v1/contacts").status_code == 200
    assert viewer.post("/api/v1/contacts", {"first_name": "No"}, format="json").status_code == 403
    assert not Contact.objects.exists()


def _bulk(organization, owner, pipeline, n: int) -> None:
    """n rows of every kind, with related rows and tags, straight into the database."""
    tag = Tag.objects.get_or_create(organization=organization, name="vip")[0]
    companies = Company.objects.bulk_create(
        [Company(organization=organization, name=f"C{i}", owner=owner) for i in range(n)]
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(organization=organization, first_name=f"P{i}", company=companies[i], owner=owner)
            for i in range(n)
        ]
    )
    own_tags = Tag.objects.bulk_create([Tag(organization=organization, name=f"t{n}-{i}") for i in range(n)])
    Contact.tags.through.objects.bulk_create([Contact.tags.through(contact=c, tag=tag) for c in contacts])
    Contact.tags.through.objects.bulk_create(
        [Contact.tags.through(contact=c, tag=t) for c, t in zip(contacts, own_tags, strict=True)]
    )
    Company.tags.through.objects.bulk_create([Company.tags.through(company=c, tag=tag) for c in companies])
    stage = pipeline.stages.first()
    deals = Deal.objects.bulk_create(
        [
            Deal(organization=organization, title=f"D{i}", pipeline=pipeline, stage=stage, owner=owner)
            for i in range(n)
        ]
    )
    Deal.contacts.through.objects.bulk_create(
        [Deal.contacts.through(deal=d, contact=contacts[0]) for d in deals]
    )
    Deal.tags.through.objects.bulk_create([Deal.tags.through(deal=d, tag=tag) for d in deals])
    Deal.tags.through.objects.bulk_create(
        [Deal.tags.through(deal=d, tag=t) for d, t in zip(deals, own_tags, strict=True)]
    )
    Activity.objects.bulk_create(
        [
            Activity(organization=organization, subject=f"A{i}", contact=contacts[i], assignee=owner)
            for i in range(n)
        ]
    )
    first_contact = (
        Contact.objects.filter(organization=organization).order_by("id").values_list("id", flat=True)[0]
    )
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                organization=organization,
                actor=owner,
                action="updated",
                target_type="contact",
                target_id=first_contact,
                target_label="x",
            )
            for _ in range(n)
        ]
    )


LIST_URLS = [
    "/api/v1/companies",
    "/api/v1/contacts",
    "/api/v1/deals",
    "/api/v1/activities",
    "/api/v1/pipelines",
    "/api/v1/custom-fields",
    "/api/v1/tags",
    "/api/v1/timeline",
    "/api/v1/members",
    "/api/v1/tokens",
    "/api/v1/contacts/{contact}/timeline",
]


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def test_list_query_counts_do_not_grow_with_rows(api_client, organization, owner, pipeline) -> None:
    client = api_client(Role.ADMIN)
    client.get("/api/v1/organization")  # token last-used time written now, not during the counts
    _bulk(organization, owner, pipeline, 1)
    services.custom_field_create(
        org=organization, actor=owner, entity="deal", key="k", label="K", field_type="text"
    )
    first_contact = Contact.objects.order_by("id")[0]
    urls = [u.format(contact=first_contact.pk) for u in LIST_URLS]
    small = {url: _queries(client, url) for url in urls}
    _bulk(organization, owner, pipeline, 49)
    for i in range(49):
        services.pipeline_create(org=organization, actor=owner, name=f"P{i}", stages=[{"name": "Only"}])
        services.custom_field_create(
            org=organization, actor=owner, entity="contact", key=f"k{i}", label="K", field_type="text"
        )
    large = {url: _queries(client, url) for url in urls}
    sizes = {url: len(client.get(url).json()["results"]) for url in urls}
    short = {
        url: size for url, size in sizes.items() if size < 50 and "members" not in url and "tokens" not in url
    }
    assert not short
    assert small == large


def test_fast_output_matches_drf_rendering(organization, owner, pipeline) -> None:
    """FastOutputSerializer renders exactly what DRF's field-by-field rendering gives."""
    _bulk(organization, owner, pipeline, 3)
    contact = Contact.objects.order_by("id").first()
    assert contact is not None
    Contact.objects.filter(pk=contact.pk).update(
        phones=["+49 30 1234", "555"],
        custom_fields={"plan": "pro", "seats": 3, "x": None},
        email="a@b.example",
    )
    Deal.objects.filter(organization=organization).update(closed_at=timezone.now(), value=Decimal("12.50"))
    now = timezone.now()
    Activity.objects.filter(organization=organization).update(due_at=now, done=True, done_at=now)
    cases = [
        (crm_api.ContactSerializer, selectors.contact_list(org=organization)),
        (crm_api.CompanySerializer, selectors.company_list(org=organization)),
        (crm_api.DealSerializer, selectors.deal_list(org=organization)),
        (crm_api.ActivitySerializer, selectors.activity_list(org=organization)),
        (crm_api.PipelineSerializer, selectors.pipeline_list(org=organization)),
    ]
    for serializer_class, rows in cases:
        for row in rows:
            serializer = serializer_class()
            expected = drf.Serializer.to_representation(serializer, row)
            assert serializer.to_representation(row) == expected
            assert list(serializer.to_representation(row)) == list(expected)  # same key order


def test_patch_with_if_match_changes_only_the_version_it_names(api_client, organization) -> None:
    client = api_client(Role.MEMBER)
    created = client.post("/api/v1/contacts", {"first_name": "Ada"}, format="json").json()
    url = f"/api/v1/contacts/{created['id']}"
    tag = client.get(url)["ETag"]
    assert tag[0] == tag[-1] == '"'
    assert tag[1:-1].isdigit()

    # A colleague saves first (with the version they read): a new version, a new tag.
    first = client.patch(url, {"job_title": "Poet"}, format="json", headers={"If-Match": tag})
    assert first.status_code == 200, first.content
    assert first["ETag"] != tag
    assert first["ETag"] == client.get(url)["ETag"]

    # The second save names the version both read: 412, a problem document, nothing written.
    second = client.patch(url, {"job_title": "Engineer"}, format="json", headers={"If-Match": tag})
    assert second.status_code == 412
    assert second["Content-Type"] == "application/problem+json"
    problem = second.json()
    assert (problem["status"], problem["type"]) == (412, "urn:stratus:problem:stale")
    contact = Contact.objects.get(pk=url.rsplit("/", 1)[1])
    assert contact.job_title == "Poet"
    assert TimelineEntry.objects.filter(target_type="contact", action="updated").count() == 1

    # A tag that is not one of ours never matches; "*" and no header ask for no check.
    assert (
        client.put(url, {"first_name": "Ada"}, format="json", headers={"If-Match": 'W/"1"'}).status_code
        == 412
    )
    assert (
        client.patch(url, {"job_title": "Engineer"}, format="json", headers={"If-Match": "*"}).status_code
        == 200
    )
    assert client.patch(url, {"job_title": "Chemist"}, format="json").status_code == 200
    # A stale version with invalid input is still a 412 (the version is checked first).
    stale = client.patch(url, {"email": "nope"}, format="json", headers={"If-Match": first["ETag"]})
    assert stale.status_code == 412
    assert Contact.objects.get(pk=contact.pk).job_title == "Chemist"


def test_the_schema_documents_the_version_headers_and_412() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for plural in ("contacts", "companies", "deals", "activities"):
        operations = schema["paths"][f"/api/v1/{plural}/{{id}}"]
        for method in ("patch", "put"):
            names = [(p["in"], p["name"]) for p in operations[method].get("parameters", [])]
            assert ("header", "If-Match") in names
            assert "412" in operations[method]["responses"]
            assert "ETag" in operations[method]["responses"]["200"]["headers"]
        assert "ETag" in operations["get"]["responses"]["200"]["headers"]
        assert "412" not in operations["get"]["responses"]
