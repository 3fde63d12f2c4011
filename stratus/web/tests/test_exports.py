"""CSV exports of list views: the worker's file (rows, columns, order, neutralised cells), the
start, progress and download pages, expiry, the sweep, and tenant isolation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.web.lists import exports
from stratus.web.models import BulkState, ExportJob
from testsupport.factories import make_member, make_organization
from testsupport.servers import S3Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """The embedded default's storage: a local folder."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return root


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _people(org: Organization) -> None:
    """Ten contacts; three of them have the tag "vip" (one with a formula for a job title)."""
    for i in range(10):
        crm_services.contact_create(
            org=org,
            actor=None,
            first_name=f"Person{i}",
            last_name="Doe",
            email=f"p{i}@example.com",
            job_title='=HYPERLINK("http://evil")' if i == 4 else f"Job {i}",
            tags=["vip"] if i in (1, 4, 7) else [],
        )


def _start(client: Client, kind: str, query: str) -> Any:
    return client.post(reverse("web:list-export", args=[kind]), {"query": query}, HTTP_HX_REQUEST="true")


def _download(client: Client, job: ExportJob) -> bytes:
    response = client.get(reverse("web:list-export-download", args=[job.pk]))
    assert response.status_code == 302, response.content[:300]
    assert response["Cache-Control"] == "no-store"
    served = Client().get(response["Location"])  # the short-lived link works without the session
    assert served.status_code == 200
    assert served["Content-Disposition"].startswith("attachment")
    return b"".join(served.streaming_content)  # type: ignore[attr-defined]


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_an_export_holds_exactly_the_filtered_rows_with_the_chosen_columns_in_order(
    media: Path, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 2)  # several keyset chunks for three rows
    sent: list[Any] = []
    monkeypatch.setattr("stratus.web.tasks.export_run.apply_async", lambda args: sent.append(args))
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    client = _client(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = _start(client, "contacts", "tag=vip&ordering=-name&columns=job_title,email,tags,name")
    assert response.status_code == 200
    job = ExportJob.objects.get(organization=org)
    assert sent == [(job.pk,)]
    assert (job.state, job.filters, job.ordering) == (BulkState.QUEUED, {"tag": "vip"}, "-name")
    assert job.columns == ["job_title", "email", "tags", "name"]
    assert 'hx-trigger="every 1s"' in response.content.decode()

    assert exports.export_run(job_id=job.pk) == BulkState.DONE  # what the worker does
    job.refresh_from_db()
    assert (job.total, job.done) == (3, 3)
    assert job.key.startswith(f"exports/{org.pk}/")
    assert (media / job.key).is_file()

    progress = client.get(reverse("web:list-export-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    page = progress.content.decode()
    assert 'data-testid="export-download"' in page
    assert "every 1s" not in page
    assert "3 of 3 rows written." in page
    # Without JavaScript the progress is a page of its own, with the same link.
    full = client.get(reverse("web:list-export-progress", args=[job.pk])).content.decode()
    assert "<h1>Export to CSV</h1>" in full
    assert reverse("web:list-export-download", args=[job.pk]) in full

    rows = _rows(_download(client, job))
    assert rows == [
        ["Job title", "E-mail", "Tags", "Name"],
        ["Job 7", "p7@example.com", "vip", "Person7 Doe"],
        ['\'=HYPERLINK("http://evil")', "p4@example.com", "vip", "Person4 Doe"],
        ["Job 1", "p1@example.com", "vip", "Person1 Doe"],
    ]


def test_a_repeated_run_writes_the_file_again_and_deletes_the_first(
    media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(org=org, actor=user, kind="contacts", filters={"tag": "vip"})
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    first = job.key
    ExportJob.objects.filter(pk=job.pk).update(state=BulkState.RUNNING)  # a worker lost mid-way
    with django_capture_on_commit_callbacks(execute=True):
        exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == BulkState.DONE
    assert job.key != first
    assert not (media / first).exists()
    assert (media / job.key).is_file()


def test_deals_export_names_stages_and_companies_and_keeps_plain_values(media: Path) -> None:
    org = make_organization()
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    user = make_member(org, Role.MEMBER).user
    acme = crm_services.company_create(org=org, actor=None, name="@Acme")
    crm_services.deal_create(
        org=org, actor=None, title="Big", value="1234.50", currency="EUR", company=acme.pk
    )
    crm_services.deal_create(org=org, actor=None, title="Small", value="10.00", currency="EUR")
    job = exports.export_job_create(
        org=org,
        actor=user,
        kind="deals",
        filters={"value_min": "100"},
        columns=["title", "value", "stage", "company"],
    )
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    rows = _rows(_download(_client(user), job))
    assert rows[0] == ["Title", "Value", "Stage", "Company"]
    assert len(rows) == 2
    assert rows[1][0:2] == ["Big", "1234.50"]
    assert rows[1][2]  # the stage's name
    assert rows[1][3] == "'@Acme"


def test_viewers_may_export_and_bad_list_state_is_refused_with_the_field(media: Path) -> None:
    org = make_organization()
    viewer = make_member(org, Role.VIEWER).user
    client = _client(viewer)
    assert _start(client, "contacts", "").status_code == 200
    job = ExportJob.objects.get(organization=org, created_by=viewer)
    assert job.columns == ["name", "email", "company", "owner", "tags", "created_at"]  # the list's defaults

    refused = _start(client, "contacts", "columns=name,secret&ordering=nope")
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "columns: There is no column “secret”." in body
    assert "ordering: Unknown sort “nope”" in body
    refused = _start(client, "contacts", "created_after=yesterday")
    assert refused.status_code == 400
    assert "created_after" in refused.content.decode()
    assert ExportJob.objects.filter(organization=org).count() == 1


def test_another_organization_or_member_gets_a_404_for_an_export(media: Path) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    exports.export_run(job_id=job.pk)
    assert _client(user).get(reverse("web:list-export-download", args=[job.pk])).status_code == 302
    colleague = make_member(org, Role.ADMIN).user
    stranger = make_member(make_organization("Other"), Role.OWNER).user
    for someone in (colleague, stranger):
        client = _client(someone)
        assert client.get(reverse("web:list-export-progress", args=[job.pk])).status_code == 404
        assert client.get(reverse("web:list-export-download", args=[job.pk])).status_code == 404


def test_an_export_not_finished_is_a_404_and_an_expired_one_is_gone(media: Path) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    client = _client(user)
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    assert client.get(reverse("web:list-export-download", args=[job.pk])).status_code == 404
    exports.export_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    refused = client.get(reverse("web:list-export-download", args=[job.pk]))
    assert refused.status_code == 410
    assert "This export has expired" in refused.content.decode()


def test_the_sweep_deletes_expired_files_and_queues_lost_exports_again(media: Path, monkeypatch: Any) -> None:
    sent: list[Any] = []
    monkeypatch.setattr("stratus.web.tasks.export_run.apply_async", lambda args: sent.append(args))
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    old = exports.export_job_create(org=org, actor=user, kind="contacts")
    exports.export_run(job_id=old.pk)
    fresh = exports.export_job_create(org=org, actor=user, kind="contacts")
    exports.export_run(job_id=fresh.pk)
    lost = exports.export_job_create(org=org, actor=user, kind="contacts")
    old.refresh_from_db()
    fresh.refresh_from_db()
    ExportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    ExportJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    swept = exports.export_jobs_sweep()
    assert swept == {"deleted": [old.pk], "queued": [lost.pk]}
    assert sent == [(lost.pk,)]
    assert not (media / old.key).exists()
    assert (media / fresh.key).is_file()
    assert ExportJob.objects.get(pk=old.pk).file_deleted
    assert exports.export_jobs_sweep()["deleted"] == []  # nothing twice


def test_on_s3_the_download_is_a_presigned_url_of_the_bucket(s3_storage: S3Endpoint, s3_bucket: str) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(
        org=org, actor=user, kind="contacts", filters={"tag": "vip"}, columns=["email"]
    )
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert s3_storage.keys(s3_bucket) == [job.key]

    response = _client(user).get(reverse("web:list-export-download", args=[job.pk]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_storage.url)
    assert "X-Amz-Expires=" in url
    assert "X-Amz-Signature=" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert _rows(fetched.content) == [
        ["E-mail"],
        ["p7@example.com"],
        ["p4@example.com"],
        ["p1@example.com"],
    ]  # newest first
    unsigned = url.split("?", 1)[0]
    assert requests.get(unsigned, timeout=10).status_code == 403  # the bucket is private


def test_activities_and_custom_fields_export_as_the_list_shows_them(media: Path) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    member = make_member(org, Role.MEMBER).user
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="text"
    )
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="paying", label="Paying", field_type="boolean"
    )
    ada = crm_services.contact_create(
        org=org,
        actor=None,
        first_name="Ada",
        last_name="King",
        custom_fields={"plan": "+pro", "paying": True},
    )
    crm_services.activity_create(
        org=org,
        actor=None,
        subject="Call Ada",
        kind="call",
        due_at="2030-01-02T10:00:00+00:00",
        assignee=member.pk,
        contact=ada.pk,
    )
    crm_services.activity_create(org=org, actor=None, subject="Done already", done=True, contact=ada.pk)

    contacts = exports.export_job_create(
        org=org, actor=user, kind="contacts", columns=["custom_fields.plan", "custom_fields.paying", "name"]
    )
    exports.export_run(job_id=contacts.pk)
    contacts.refresh_from_db()
    assert _rows(_download(_client(user), contacts)) == [
        ["Plan", "Paying", "Name"],
        ["'+pro", "true", "Ada King"],
    ]

    activities = exports.export_job_create(
        org=org,
        actor=user,
        kind="activities",
        filters={"done": "false"},
        columns=["subject", "kind", "target", "due_at", "done", "assignee"],
    )
    exports.export_run(job_id=activities.pk)
    activities.refresh_from_db()
    rows = _rows(_download(_client(user), activities))
    assert rows[0] == ["Subject", "Kind", "About", "Due", "Done", "Assignee"]
    assert len(rows) == 2
    subject, kind, about, due, done, assignee = rows[1]
    assert (subject, kind, about, done) == ("Call Ada", "Call", "Ada King", "false")
    assert due.startswith("2030-01-02T")
    assert assignee == (member.full_name or member.email)


def test_the_worker_reads_no_row_by_row(media: Path) -> None:
    org = make_organization()
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    user = make_member(org, Role.MEMBER).user
    acme = crm_services.company_create(org=org, actor=None, name="Acme")
    columns = ["title", "value", "stage", "company", "owner", "created_at"]

    def queries() -> int:
        job = exports.export_job_create(org=org, actor=user, kind="deals", columns=columns)
        with CaptureQueriesContext(connection) as captured:
            exports.export_run(job_id=job.pk)
        return len(captured)

    crm_services.deal_create(org=org, actor=None, title="One", company=acme.pk, owner=user.pk)
    few = queries()
    for i in range(12):
        crm_services.deal_create(org=org, actor=None, title=f"D{i}", company=acme.pk, owner=user.pk)
    assert queries() == few


def test_the_file_goes_with_its_export_when_the_member_is_deleted(
    media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert (media / job.key).is_file()
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not ExportJob.objects.filter(pk=job.pk).exists()
    assert not (media / job.key).exists()


def test_an_export_whose_filter_no_longer_exists_fails_with_the_reason(media: Path) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    field = crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="text"
    )
    job = exports.export_job_create(
        org=org, actor=user, kind="contacts", filters={"custom_fields.plan": "pro"}
    )
    crm_services.custom_field_delete(org=org, actor=None, field=field.pk)

    assert exports.export_run(job_id=job.pk) == BulkState.FAILED
    job.refresh_from_db()
    assert job.key == ""
    page = _client(user).get(reverse("web:list-export-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "The export failed:" in page.content.decode()
    assert _client(user).get(reverse("web:list-export-download", args=[job.pk])).status_code == 404
