"""Imports, exports, reminders, notifications and campaigns over the API (tokens, roles)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from stratus.accounts.models import Role
from stratus.accounts.services import token_create
from stratus.crm import services as crm
from stratus.crm.models import Activity, Contact
from stratus.imports import services as imports
from stratus.reminders import services as reminders
from testsupport.factories import token_client

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_import_over_the_api_reports_progress_and_an_error_report(api_client, organization) -> None:
    client = api_client(Role.MEMBER)
    content = b"Name,Email\nAda Lovelace,ada@example.com\nBad,nope\n=cmd,eve@example.com\n"
    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("people.csv", content), "kind": "contacts"},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["state"] == "queued"
    assert job["mapping"] == [{"column": "Name", "field": "full_name"}, {"column": "Email", "field": "email"}]

    imports.import_run(job_id=job["id"])  # what the worker does
    progress = client.get(f"/api/v1/imports/{job['id']}").json()
    assert progress["state"] == "done"
    assert (progress["rows_total"], progress["rows_done"], progress["percent"]) == (3, 3, 100.0)
    assert (progress["created"], progress["failed"]) == (2, 1)
    report = client.get(progress["error_report"])
    assert report.status_code == 200
    assert csv_rows(report) == [
        ["row", "reason", "Name", "Email"],
        ["3", "email: Enter a valid email address.", "Bad", "nope"],
    ]

    export = client.get("/api/v1/exports/contacts.csv", {"ordering": "created_at"})
    rows = csv_rows(export)
    assert rows[0][:4] == ["id", "first_name", "last_name", "email"]
    assert [r[1] for r in rows[1:]] == ["Ada", "'=cmd"]  # a formula is neutralised


def test_import_upload_errors_are_problem_details_naming_the_field(api_client) -> None:
    client = api_client(Role.MEMBER)
    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("x.csv", b"city\nParis\n"), "kind": "contacts"},
        format="multipart",
    )
    assert response.status_code == 400
    problem = response.json()
    assert "Missing column" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {"mapping"}

    viewer = api_client(Role.VIEWER)
    response = viewer.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("x.csv", b"email\na@example.com\n"), "kind": "contacts"},
        format="multipart",
    )
    assert response.status_code == 403


def test_export_filters_are_validated_and_scoped_to_the_organization(
    api_client, organization, other_organization
) -> None:
    owner = organization.memberships.first().user
    crm.contact_create(
        org=organization, actor=owner, first_name="Mine", email="mine@example.com", tags=["vip"]
    )
    crm.contact_create(org=organization, actor=owner, first_name="Cold", email="cold@example.com")
    crm.contact_create(org=other_organization, actor=None, first_name="Theirs", email="theirs@example.com")
    client = api_client(Role.VIEWER)
    rows = csv_rows(client.get("/api/v1/exports/contacts.csv", {"tags": "vip"}))
    assert [r[1] for r in rows[1:]] == ["Mine"]
    response = client.get("/api/v1/exports/contacts.csv", {"shoe_size": "9"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "shoe_size"


def test_notifications_are_listed_and_marked_read_by_their_user_only(api_client, organization) -> None:
    owner = organization.memberships.first().user
    contact = Contact.objects.create(organization=organization, first_name="Ada", email="a@example.com")
    activity = Activity.objects.create(
        organization=organization, subject="Call Ada", due_at=timezone.now(), assignee=owner, contact=contact
    )
    client = api_client(Role.MEMBER)
    created = client.post(
        "/api/v1/reminders", {"activity": activity.pk, "offset_minutes": 10, "note": "prepare"}, format="json"
    )
    assert created.status_code == 201, created.content
    reminder = created.json()
    assert reminder["offset_minutes"] == 10
    # The assignee (the owner) is the one reminded, not the member who set it.
    assert reminder["user"] == owner.pk
    assert reminders.reminders_fire_due() == 1

    member_view = client.get("/api/v1/notifications").json()
    assert member_view["results"] == []
    issued = token_create(org=organization, actor=owner, name="owner", role=Role.OWNER)
    owner_client = token_client(issued.secret)
    listed = owner_client.get("/api/v1/notifications?unread=true")
    assert listed["X-Unread-Count"] == "1"
    notification = listed.json()["results"][0]
    assert notification["title"].startswith("Reminder: Call Ada")
    assert client.post(f"/api/v1/notifications/{notification['id']}/read").status_code == 404
    marked = owner_client.post(f"/api/v1/notifications/{notification['id']}/read")
    assert marked.json()["read_at"] is not None
    assert owner_client.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    assert owner_client.put(
        "/api/v1/notifications/preferences", {"email_reminders": True}, format="json"
    ).json() == {"email_reminders": True}


def test_reminder_input_errors_name_the_field(api_client, organization, other_organization) -> None:
    foreign = Contact.objects.create(organization=other_organization, first_name="X")
    activity = Activity.objects.create(organization=other_organization, subject="Theirs", contact=foreign)
    client = api_client(Role.MEMBER)
    response = client.post(
        "/api/v1/reminders", {"activity": activity.pk, "remind_at": timezone.now().isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "activity"


def test_campaign_lifecycle_over_the_api(api_client, organization) -> None:
    owner = organization.memberships.first().user
    crm.contact_create(org=organization, actor=owner, first_name="Ada", email="ada@example.com", tags=["vip"])
    client = api_client(Role.MEMBER)
    preview = client.post("/api/v1/segments/preview", {"filters": {"tags": ["vip"]}}, format="json").json()
    assert (preview["count"], preview["with_email"]) == (1, 1)
    segment = client.post(
        "/api/v1/segments", {"name": "VIP", "filters": {"tags": ["vip"]}}, format="json"
    ).json()
    bad = client.post(
        "/api/v1/campaigns",
        {"name": "x", "segment": segment["id"], "subject": "Hi", "body_text": "{% debug %}"},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "body_text"
    campaign = client.post(
        "/api/v1/campaigns",
        {
            "name": "Launch",
            "segment": segment["id"],
            "subject": "Hi {{ contact.first_name }}",
            "body_text": "News",
        },
        format="json",
    ).json()
    rendered = client.post(f"/api/v1/campaigns/{campaign['id']}/preview", {}, format="json").json()
    assert (rendered["to"], rendered["subject"]) == ("ada@example.com", "Hi Ada")
    assert rendered["text"].startswith("News")
    assert "Unsubscribe:" in rendered["text"]
    later = (timezone.now() + timedelta(days=1)).isoformat()
    scheduled = client.post(f"/api/v1/campaigns/{campaign['id']}/send", {"at": later}, format="json").json()
    assert scheduled["state"] == "scheduled"
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/pause").json()["state"] == "paused"
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/pause").status_code == 409
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/cancel").json()["state"] == "cancelled"
    stats = client.get(f"/api/v1/campaigns/{campaign['id']}/stats").json()
    assert stats["sent"] == 0
    viewer = api_client(Role.VIEWER)
    assert viewer.get("/api/v1/campaigns").status_code == 200
    assert viewer.post("/api/v1/suppressions", {"email": "x@example.com"}, format="json").status_code == 403
    assert client.post("/api/v1/suppressions", {"email": "X@Example.com"}, format="json").json()["email"] == (
        "x@example.com"
    )
