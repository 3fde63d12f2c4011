"""A CSV import follows the CRM's rules: the same domains, messages, timeline and live events as the API."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stratus.accounts.models import Role
from stratus.crm import rules
from stratus.crm.models import Company, Contact
from stratus.imports import services as imports
from stratus.realtime import events

pytestmark = pytest.mark.django_db


def import_file(client, content: str, kind: str, **options: str) -> dict:
    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile(f"{kind}.csv", content.encode()), "kind": kind, **options},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    imports.import_run(job_id=response.json()["id"])  # what the worker does
    job = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert job["state"] == "done"
    return job


def report_reasons(client, job: dict) -> list[str]:
    response = client.get(job["error_report"])
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return [row[1] for row in list(csv.reader(io.StringIO(text)))[1:]]


def api_messages(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("https://Acme.example/", "acme.example"),
        ("http://www.acme.example./about?x=1", "acme.example"),
        ("WWW.Acme.Example", "acme.example"),
        ("acme.example:8443", "acme.example"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("", ""),
    ],
)
def test_one_domain_rule(spelling: str, expected: str) -> None:
    assert rules.normalise_domain(spelling) == expected


@pytest.mark.parametrize(
    ("api_spelling", "csv_spelling"),
    [("https://Acme.example/", "www.acme.example"), ("https://www.Acme.example/", "Acme.example.")],
)
def test_a_company_created_over_the_api_is_found_by_an_import_row_with_www(
    api_client, organization, api_spelling: str, csv_spelling: str
) -> None:
    client = api_client(Role.MEMBER)
    created = client.post("/api/v1/companies", {"name": "Acme", "domain": api_spelling}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["domain"] == "acme.example"

    job = import_file(
        client,
        f"Name,Domain,City\nAcme Imported,{csv_spelling},Berlin\n",
        "companies",
        dedup_policy="update",
    )
    assert (job["created"], job["updated"], job["failed"]) == (0, 1, 0)
    company = Company.objects.get(organization=organization)
    assert (company.pk, company.city, company.domain) == (created.json()["id"], "Berlin", "acme.example")


def test_a_company_imported_first_is_the_same_domain_for_the_api(api_client, organization) -> None:
    client = api_client(Role.MEMBER)
    job = import_file(client, "Name,Domain\nGlobex,https://www.Globex.example/\n", "companies")
    assert job["created"] == 1
    company = Company.objects.get(organization=organization)
    assert company.domain == "globex.example"

    for spelling in ("www.globex.example", "https://Globex.example/", "GLOBEX.example."):
        found = client.get("/api/v1/companies", {"domain": spelling}).json()["results"]
        assert [c["id"] for c in found] == [company.pk], spelling
    updated = client.patch(
        f"/api/v1/companies/{company.pk}", {"domain": "http://WWW.globex.example"}, format="json"
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["domain"] == "globex.example"
    # A second import with another spelling updates the same company instead of adding one.
    again = import_file(
        client, "Name,Domain\nGlobex Corp,globex.example/\n", "companies", dedup_policy="update"
    )
    assert (again["created"], again["updated"]) == (0, 1)
    assert Company.objects.filter(organization=organization).count() == 1


@pytest.mark.parametrize(
    ("api_body", "csv_text", "field"),
    [
        ({"first_name": "Bad", "email": "not-an-email"}, "First Name,Email\nBad,not-an-email\n", "email"),
        (
            {"first_name": "Tagged", "tags": ["x" * 61]},
            f"First Name,Email,Tags\nTagged,t@example.com,{'x' * 61}\n",
            "tags",
        ),
        (
            {"first_name": "Many", "tags": [f"t{n}" for n in range(51)]},
            "First Name,Email,Tags\nMany,m@example.com,{}\n".format(";".join(f"t{n}" for n in range(51))),
            "tags",
        ),
        ({"job_title": "CTO"}, "First Name,Job Title,Email\n,CTO,\n", "first_name"),
    ],
)
def test_the_same_rule_broken_over_the_api_and_in_an_import_gives_the_same_message(
    api_client, api_body: dict, csv_text: str, field: str
) -> None:
    client = api_client(Role.MEMBER)
    job = import_file(client, csv_text, "contacts")
    messages = api_messages(client.post("/api/v1/contacts", api_body, format="json"))
    assert job["failed"] == 1
    assert report_reasons(client, job) == [f"{field}: {messages[field][0]}"]


def test_a_blank_tag_is_refused_by_the_api_with_the_rule_message(api_client) -> None:
    messages = api_messages(
        api_client(Role.MEMBER).post(
            "/api/v1/contacts", {"first_name": "A", "tags": ["a", " "]}, format="json"
        )
    )
    assert messages == {"tags": [rules.TAG_EMPTY]}


def test_an_imported_contact_has_a_timeline_and_the_chunk_is_announced_after_commit(
    api_client, organization, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    client = api_client(Role.MEMBER)
    Contact.objects.create(organization=organization, first_name="Old", email="grace@example.com")
    delivered: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        events,
        "deliver_now",
        lambda *, organization_id, event_json, data_json, user_id=None: delivered.append(
            (json.loads(event_json), json.loads(data_json))
        ),
    )
    response = client.post(
        "/api/v1/imports",
        {
            "file": SimpleUploadedFile(
                "people.csv",
                b"First Name,Email,Company,Tags\n"
                b"Ada,ada@example.com,Analytical,vip\n"
                b"Grace,GRACE@example.com,,\n",
            ),
            "kind": "contacts",
            "dedup_policy": "update",
        },
        format="multipart",
    )
    job_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert imports.import_run(job_id=job_id) == "done"
    assert delivered == []  # nothing is announced before the chunk commits
    for callback in callbacks:
        callback()
    ada = Contact.objects.get(organization=organization, email="ada@example.com")
    grace = Contact.objects.get(organization=organization, email__iexact="grace@example.com")
    names = [event for event, _ in delivered]
    assert names.count("contact.imported") == 1
    assert names.count("company.imported") == 1  # the company named by Ada's row was created
    assert names.index("company.imported") < names.index("contact.imported") < names.index("import.progress")
    contacts_event = next(data for event, data in delivered if event == "contact.imported")
    assert contacts_event == {"import": job_id, "ids": [ada.pk, grace.pk], "created": 1, "updated": 1}

    for contact, outcome in ((ada, "created"), (grace, "updated")):
        entries = client.get(f"/api/v1/contacts/{contact.pk}/timeline").json()["results"]
        assert [(e["action"], e["data"]) for e in entries] == [
            ("imported", {"import": job_id, "outcome": outcome})
        ], entries
    assert ada.company is not None
    company_entries = client.get(f"/api/v1/companies/{ada.company.pk}/timeline").json()["results"]
    assert [e["action"] for e in company_entries] == ["imported"]
    assert [t.name for t in ada.tags.all()] == ["vip"]
