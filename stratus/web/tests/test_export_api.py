"""Export jobs over the API (start, progress, the short-lived link) and the bounded retries of
an export that keeps failing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Role
from stratus.web.lists import exports
from stratus.web.models import BulkState, ExportJob
from stratus.web.tests.test_exports import _people, _rows
from testsupport.factories import make_member, make_organization, make_token, token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/export-jobs"


def _storage(settings: Any, root: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    _storage(settings, root)
    return root


@pytest.fixture
def broken_storage(settings: Any, tmp_path: Path) -> Path:
    """A storage whose folder is a file: every write fails (a real failure, not a stand-in)."""
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    _storage(settings, blocked)
    return blocked


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_viewer_exports_a_filtered_list_and_downloads_it_through_the_link(media: Path) -> None:
    org = make_organization()
    _people(org)
    viewer = token_client(make_token(org, Role.VIEWER))
    started = viewer.post(
        URL,
        {"kind": "contacts", "filters": {"tag": "vip"}, "ordering": "-name", "columns": ["email", "name"]},
        format="json",
    )
    assert started.status_code == 202, started.content
    body = started.json()
    assert (body["state"], body["filters"], body["ordering"], body["columns"]) == (
        "queued",
        {"tag": "vip"},
        "-name",
        ["email", "name"],
    )
    assert body["download"] is None
    assert started["Location"] == f"{URL}/{body['id']}"
    not_ready = viewer.get(f"{URL}/{body['id']}/download")
    assert (not_ready.status_code, not_ready.json()["type"]) == (409, "urn:stratus:problem:export_not_ready")

    exports.export_run(job_id=body["id"])  # what the worker does
    progress = viewer.get(f"{URL}/{body['id']}").json()
    assert (progress["state"], progress["total"], progress["done"], progress["percent"]) == (
        "done",
        3,
        3,
        100,
    )
    assert progress["download"] == f"{URL}/{body['id']}/download"
    link = viewer.get(progress["download"])
    assert link.status_code == 200
    assert link["Cache-Control"] == "no-store"
    served = Client().get(link.json()["url"])  # the link works without credentials
    assert served.status_code == 200
    assert _rows(b"".join(served.streaming_content)) == [  # type: ignore[attr-defined]
        ["E-mail", "Name"],
        ["p7@example.com", "Person7 Doe"],
        ["p4@example.com", "Person4 Doe"],
        ["p1@example.com", "Person1 Doe"],
    ]


def test_only_the_member_who_started_it_sees_it_and_another_organization_gets_404(media: Path) -> None:
    org = make_organization()
    starter = token_client(make_token(org, Role.MEMBER))
    job_id = starter.post(URL, {"kind": "deals"}, format="json").json()["id"]
    exports.export_run(job_id=job_id)
    colleague = token_client(make_token(org, Role.OWNER))
    stranger = token_client(make_token(make_organization("Other"), Role.OWNER))
    for client in (colleague, stranger):
        assert client.get(f"{URL}/{job_id}").status_code == 404
        assert client.get(f"{URL}/{job_id}/download").status_code == 404
    assert starter.get(f"{URL}/{job_id}/download").status_code == 200


def test_an_expired_export_is_gone(media: Path) -> None:
    org = make_organization()
    client = token_client(make_token(org, Role.MEMBER))
    job_id = client.post(URL, {"kind": "companies"}, format="json").json()["id"]
    exports.export_run(job_id=job_id)
    ExportJob.objects.filter(pk=job_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = client.get(f"{URL}/{job_id}/download")
    assert (refused.status_code, refused.json()["type"]) == (410, "urn:stratus:problem:export_expired")
    assert client.get(f"{URL}/{job_id}").json()["expired"] is True


def test_a_bad_list_state_is_refused_by_field_and_nothing_is_queued(media: Path) -> None:
    org = make_organization()
    client = token_client(make_token(org, Role.MEMBER))
    assert set(_errors(client.post(URL, {"kind": "planets"}, format="json"))) == {"kind"}
    assert set(_errors(client.post(URL, {"kind": "contacts", "columns": ["nope"]}, format="json"))) == {
        "columns"
    }
    assert set(_errors(client.post(URL, {"kind": "contacts", "ordering": "nope"}, format="json"))) == {
        "ordering"
    }
    assert set(_errors(client.post(URL, {"kind": "contacts", "filters": {"owner": "x"}}, format="json"))) == {
        "filters"
    }
    assert set(
        _errors(client.post(URL, {"kind": "contacts", "filters": {"tag": {"a": 1}}}, format="json"))
    ) == {"filters"}
    assert set(_errors(client.post(URL, {"kind": "contacts", "filters": ["tag"]}, format="json"))) == {
        "filters"
    }
    assert not ExportJob.objects.filter(organization=org).exists()


# --- bounded retries ------------------------------------------------------------------------------


def test_an_export_that_keeps_failing_fails_after_the_last_attempt_with_the_reason(
    broken_storage: Path, monkeypatch: Any
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr("stratus.web.tasks.export_run.apply_async", lambda args: sent.append(args))
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    assert exports.EXPORT_MAX_ATTEMPTS == 3
    client = Client()
    client.force_login(user)

    for attempt in (1, 2):
        assert exports.export_run(job_id=job.pk) == BulkState.QUEUED
        job.refresh_from_db()
        assert (job.state, job.attempts) == (BulkState.QUEUED, attempt)
        assert job.error == f"Attempt {attempt} failed while storing the file; retrying."
        page = client.get(reverse("web:list-export-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
        assert f"Attempt {attempt} failed while storing the file; retrying." in page.content.decode()
        # The sweep starts it again (as it does a lost message).
        ExportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=1))
        assert exports.export_jobs_sweep()["queued"] == [job.pk]

    assert exports.export_run(job_id=job.pk) == BulkState.FAILED
    job.refresh_from_db()
    assert (job.state, job.attempts) == (BulkState.FAILED, 3)
    assert job.error == (
        "The export was tried 3 times and failed while storing the file each time. "
        "Export the list again; if it keeps failing, tell an admin."
    )
    assert job.finished_at is not None
    assert exports.export_jobs_sweep()["queued"] == []  # no more retries
    assert exports.export_run(job_id=job.pk) == BulkState.FAILED
    assert ExportJob.objects.get(pk=job.pk).attempts == 3

    # The member sees the reason on the export's page.
    page = client.get(reverse("web:list-export-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "The export failed: The export was tried 3 times" in page.content.decode()


def test_over_the_api_a_failed_export_says_why(broken_storage: Path) -> None:
    org = make_organization()
    client = token_client(make_token(org, Role.MEMBER))
    job_id = client.post(URL, {"kind": "contacts"}, format="json").json()["id"]
    for _ in range(exports.EXPORT_MAX_ATTEMPTS):
        exports.export_run(job_id=job_id)
    body = client.get(f"{URL}/{job_id}").json()
    assert (body["state"], body["attempts"]) == ("failed", 3)
    assert body["error"].startswith("The export was tried 3 times and failed while storing the file")
    refused = client.get(f"{URL}/{job_id}/download")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("The export failed: The export was tried 3 times")


def test_an_export_whose_worker_keeps_being_lost_fails_too(media: Path) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    # Three runs started and never finished (the worker was killed each time).
    stale = timezone.now() - timedelta(seconds=exports.EXPORT_STALE_AFTER + 1)
    ExportJob.objects.filter(pk=job.pk).update(state=BulkState.RUNNING, attempts=3, heartbeat_at=stale)
    assert exports.export_jobs_sweep()["queued"] == [job.pk]
    assert exports.export_run(job_id=job.pk) == BulkState.FAILED
    job.refresh_from_db()
    assert job.error.startswith("The export was tried 3 times and stopped before finishing each time.")


def test_an_attempt_that_succeeds_after_a_failure_clears_the_error(
    settings: Any, tmp_path: Path, broken_storage: Path
) -> None:
    org = make_organization()
    user = make_member(org, Role.MEMBER).user
    _people(org)
    job = exports.export_job_create(org=org, actor=user, kind="contacts")
    assert exports.export_run(job_id=job.pk) == BulkState.QUEUED
    _storage(settings, tmp_path / "media")  # the storage is back
    assert exports.export_run(job_id=job.pk) == BulkState.DONE
    job.refresh_from_db()
    assert (job.state, job.attempts, job.error, job.done) == (BulkState.DONE, 2, "", 10)
