"""The documents API over HTTP: roles, tenancy, validation, both upload paths, downloads."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from stratus.accounts.models import Role
from stratus.crm.models import Contact, TimelineEntry
from stratus.documents.models import Document
from stratus.documents.tests import samples
from stratus.documents.tests.conftest import Backend
from testsupport.factories import make_organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(api_client) -> APIClient:
    return api_client(Role.MEMBER)


@pytest.fixture
def a_contact(organization) -> Contact:
    return Contact.objects.create(organization=organization, first_name="Grace", last_name="Hopper")


def send(client: APIClient, target: Contact, content: bytes, name: str, **extra):
    file = io.BytesIO(content)
    file.name = name
    return client.post(
        "/api/v1/documents/", {"contact": target.pk, "file": file, **extra}, format="multipart"
    )


def field_names(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def test_upload_list_and_download_by_a_second_client(backend: Backend, member, a_contact) -> None:
    content = samples.pdf("signed contract")
    created = send(member, a_contact, content, "Contract (signed).pdf")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Contract (signed).pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert (body["target_type"], body["target_id"]) == ("contact", a_contact.pk)

    listed = member.get("/api/v1/documents/", {"contact": a_contact.pk})
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()["results"]] == [body["id"]]

    redirect = member.get(f"/api/v1/documents/{body['id']}/download/")
    assert redirect.status_code == 302
    assert redirect["Cache-Control"] == "no-store"
    # The URL alone (no token, no session) fetches the file, as an attachment.
    status, fetched, headers = backend.get(redirect["Location"])
    assert status == 200
    assert fetched == content
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "Contract (signed).pdf" in headers["Content-Disposition"]

    link = member.get(f"/api/v1/documents/{body['id']}/download-url/").json()
    assert backend.get(link["url"])[1] == content


def test_another_organizations_member_gets_404_everywhere(
    backend: Backend, member, a_contact, api_client
) -> None:
    document_id = send(member, a_contact, samples.png(), "a.png").json()["id"]
    outsider = api_client(Role.OWNER, org=make_organization("Rival"))
    for method, path in [
        ("get", f"/api/v1/documents/{document_id}/"),
        ("get", f"/api/v1/documents/{document_id}/download/"),
        ("get", f"/api/v1/documents/{document_id}/download-url/"),
        ("patch", f"/api/v1/documents/{document_id}/"),
        ("delete", f"/api/v1/documents/{document_id}/"),
        ("post", f"/api/v1/documents/{document_id}/finish/"),
    ]:
        response = getattr(outsider, method)(
            path, {"name": "mine.png"} if method == "patch" else None, format="json"
        )
        assert response.status_code == 404, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"
    assert outsider.get("/api/v1/documents/").json()["results"] == []
    # Attaching to another organization's contact is refused too.
    refused = send(outsider, a_contact, samples.png(), "b.png")
    assert refused.status_code == 404
    assert field_names(refused) == {"contact"}
    assert Document.objects.get().name == "a.png"
    assert len(backend.keys()) == 1


def test_viewers_read_and_download_but_cannot_change(backend: Backend, member, a_contact, api_client) -> None:
    document_id = send(member, a_contact, samples.png(), "a.png").json()["id"]
    viewer = api_client(Role.VIEWER)
    assert viewer.get("/api/v1/documents/", {"contact": a_contact.pk}).status_code == 200
    assert viewer.get(f"/api/v1/documents/{document_id}/download/").status_code == 302
    assert send(viewer, a_contact, samples.png(), "b.png").status_code == 403
    assert (
        viewer.patch(f"/api/v1/documents/{document_id}/", {"name": "x.png"}, format="json").status_code == 403
    )
    assert viewer.delete(f"/api/v1/documents/{document_id}/").status_code == 403
    assert Document.objects.get().name == "a.png"
    assert len(backend.keys()) == 1


def test_anonymous_requests_are_refused(backend: Backend, member, a_contact) -> None:
    document_id = send(member, a_contact, samples.png(), "a.png").json()["id"]
    assert APIClient().get(f"/api/v1/documents/{document_id}/download/").status_code in (401, 403)


def test_oversize_upload_is_413_and_leaves_nothing(backend: Backend, member, a_contact, settings) -> None:
    settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES = 4096
    response = send(member, a_contact, samples.pdf(padding=8000), "big.pdf")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert field_names(response) == {"file"}
    assert backend.keys() == []
    assert not Document.objects.exists()


def test_oversize_request_is_refused_before_the_body_is_read(
    backend: Backend, member, a_contact, settings
) -> None:
    settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES = 1024
    response = send(member, a_contact, samples.pdf(padding=200_000), "huge.pdf")
    assert response.status_code == 413
    assert "directly to storage" in response.json()["detail"]
    assert backend.keys() == []


def test_wrong_type_is_415_whatever_the_name_and_leaves_nothing(backend: Backend, member, a_contact) -> None:
    response = send(member, a_contact, samples.windows_executable(), "invoice.pdf")
    assert response.status_code == 415
    assert field_names(response) == {"file"}
    assert backend.keys() == []
    assert not Document.objects.exists()
    assert not TimelineEntry.objects.filter(action="document.uploaded").exists()


def test_upload_needs_exactly_one_target(backend: Backend, member, a_contact) -> None:
    file = io.BytesIO(samples.png())
    file.name = "a.png"
    response = member.post(
        "/api/v1/documents/", {"contact": a_contact.pk, "deal": 1, "file": file}, format="multipart"
    )
    assert response.status_code == 400
    assert field_names(response) == {"contact", "deal"}
    missing = member.post("/api/v1/documents/", {"contact": a_contact.pk}, format="multipart")
    assert missing.status_code == 400
    assert "file" in field_names(missing)
    assert backend.keys() == []


def start_upload(client: APIClient, target: Contact, content: bytes, name: str, content_type: str):
    return client.post(
        "/api/v1/documents/uploads/",
        {
            "contact": target.pk,
            "name": name,
            "size": len(content),
            "content_type": content_type,
            "sha256": hashlib.sha256(content).hexdigest(),
        },
        format="json",
    )


def test_direct_upload_then_finish(backend: Backend, member, a_contact) -> None:
    content = samples.office("xl")
    started = start_upload(member, a_contact, content, "Q3 forecast.xlsx", samples.XLSX)
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["document"]["status"] == "pending"
    assert body["document"]["download_url"] is None
    document_id = body["document"]["id"]
    assert member.get(f"/api/v1/documents/{document_id}/").status_code == 404  # not visible yet

    upload = body["upload"]
    assert upload["method"] == "POST"
    assert backend.post_form(upload["url"], upload["fields"], content, samples.XLSX) in (200, 201, 204)
    finished = member.post(body["finish_url"].removeprefix("http://testserver"))
    assert finished.status_code == 200, finished.content
    assert finished.json()["status"] == "ready"
    assert (
        member.get("/api/v1/documents/", {"contact": a_contact.pk}).json()["results"][0]["id"] == document_id
    )
    status, fetched, _headers = backend.get(
        member.get(f"/api/v1/documents/{document_id}/download/")["Location"]
    )
    assert (status, fetched) == (200, content)


def test_finish_with_a_tampered_object_is_refused(
    backend: Backend, member, a_contact, django_capture_on_commit_callbacks
) -> None:
    announced = samples.pdf("amount: 1000")
    tampered = samples.pdf("amount: 9000")
    body = start_upload(member, a_contact, announced, "invoice.pdf", "application/pdf").json()
    backend.post_form(body["upload"]["url"], body["upload"]["fields"], tampered, "application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        refused = member.post(f"/api/v1/documents/{body['document']['id']}/finish/")
    assert refused.status_code == 422
    assert field_names(refused) == {"sha256"}
    assert not Document.objects.exists()
    assert backend.keys() == []


def test_direct_upload_start_refuses_too_large_with_413(
    backend: Backend, member, a_contact, settings
) -> None:
    settings.DOCUMENTS_MAX_UPLOAD_BYTES = 1000
    response = start_upload(member, a_contact, b"x" * 1001, "big.txt", "text/plain")
    assert response.status_code == 413
    assert field_names(response) == {"size"}
    assert not Document.objects.exists()


def test_rename_and_delete(backend: Backend, member, a_contact, django_capture_on_commit_callbacks) -> None:
    document_id = send(member, a_contact, samples.png(), "a.png").json()["id"]
    renamed = member.patch(f"/api/v1/documents/{document_id}/", {"name": "../Team photo.png"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Team photo.png"
    blank = member.patch(f"/api/v1/documents/{document_id}/", {"name": "\x00\x01"}, format="json")
    assert blank.status_code == 400
    assert field_names(blank) == {"name"}

    with django_capture_on_commit_callbacks(execute=True):
        assert member.delete(f"/api/v1/documents/{document_id}/").status_code == 204
    assert backend.keys() == []
    assert member.get(f"/api/v1/documents/{document_id}/").status_code == 404
    actions = list(
        TimelineEntry.objects.filter(target_type="contact", target_id=a_contact.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["document.uploaded", "document.renamed", "document.deleted"]


def test_listing_costs_the_same_queries_for_one_or_many_documents(
    s3_backend: Backend, member, a_contact
) -> None:
    send(member, a_contact, samples.png(), "1.png")

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert member.get("/api/v1/documents/", {"contact": a_contact.pk}).status_code == 200
        return len(queries)

    one = list_queries()
    for index in range(4):
        send(member, a_contact, samples.png(), f"{index}.png")
    assert list_queries() == one


def test_a_pending_upload_can_be_cancelled(
    backend: Backend, member, a_contact, django_capture_on_commit_callbacks
) -> None:
    content = samples.pdf()
    body = start_upload(member, a_contact, content, "draft.pdf", "application/pdf").json()
    backend.post_form(body["upload"]["url"], body["upload"]["fields"], content, "application/pdf")
    assert len(backend.keys()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert member.delete(f"/api/v1/documents/{body['document']['id']}/").status_code == 204
    assert not Document.objects.exists()
    assert backend.keys() == []
    assert member.post(f"/api/v1/documents/{body['document']['id']}/finish/").status_code == 404


def _multipart(content: bytes, name: str, contact_id: int, boundary: str) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="contact"\r\n\r\n{contact_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_a_retried_upload_with_a_new_multipart_boundary_is_replayed(
    backend: Backend, member, a_contact
) -> None:
    """Clients choose a fresh boundary on every send: a retry is still the same request."""
    content = samples.pdf("retried upload")

    def upload(boundary: str, body: bytes):
        return member.generic(
            "POST",
            "/api/v1/documents/",
            body,
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = upload("first-boundary", _multipart(content, "a.pdf", a_contact.pk, "first-boundary"))
    retried = upload("second-boundary", _multipart(content, "a.pdf", a_contact.pk, "second-boundary"))
    assert first.status_code == 201, first.content
    assert retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json()["id"] == first.json()["id"]
    assert Document.objects.filter(contact=a_contact).count() == 1
    other = samples.pdf("another file")
    refused = upload("third-boundary", _multipart(other, "a.pdf", a_contact.pk, "third-boundary"))
    assert refused.status_code == 422
    assert Document.objects.filter(contact=a_contact).count() == 1
