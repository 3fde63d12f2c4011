"""Documents end to end through the real storage backends (moto's S3 server, a media folder)."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stratus.crm.models import TimelineEntry
from stratus.documents import selectors, services
from stratus.documents.models import Document, DocumentStatus
from stratus.documents.storage import staging_key
from stratus.documents.tests import samples
from stratus.documents.tests.conftest import Backend
from stratus.platform.errors import ApplicationError, status_of

pytestmark = pytest.mark.django_db


def upload(org, user, target, content: bytes, name: str) -> Document:
    file = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return services.document_upload(org=org, actor=user, target=target, file=file)


def start(org, user, target, content: bytes, filename: str, declared_type: str, **overrides):
    fields = {
        "name": filename,
        "size": len(content),
        "content_type": declared_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        **overrides,
    }
    return services.document_upload_start(org=org, actor=user, target=target, **fields)


# --- uploads through the API ------------------------------------------------------------------


def test_upload_stores_under_a_server_key_and_downloads_through_a_short_lived_url(
    backend: Backend, org, user, contact
) -> None:
    content = samples.pdf("quote")
    document = upload(org, user, contact, content, "../../Quote\x07 2026.pdf")

    assert document.name == "Quote 2026.pdf"
    assert document.content_type == "application/pdf"
    assert document.size == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.key.startswith(f"documents/{org.pk}/")
    assert "Quote" not in document.key
    assert backend.keys() == [document.key]
    assert list(selectors.document_list(org=org, target=contact)) == [document]

    entry = TimelineEntry.objects.get(organization=org, target_id=contact.pk, action="document.uploaded")
    assert entry.target_type == "contact"
    assert entry.data is not None
    assert entry.data["name"] == "Quote 2026.pdf"

    url = backend.store.download_url(
        document.key, filename=document.name, content_type=document.content_type, expires=60
    )
    status, body, headers = backend.get(url)
    assert status == 200
    assert body == content
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "Quote 2026.pdf" in headers["Content-Disposition"]
    assert headers["Content-Type"] == "application/pdf"


def test_upload_to_company_and_deal(backend: Backend, org, user, company, deal) -> None:
    on_company = upload(org, user, company, samples.png(), "logo.png")
    on_deal = upload(org, user, deal, samples.office("xl"), "forecast.xlsx")
    assert list(selectors.document_list(org=org, target=company)) == [on_company]
    assert list(selectors.document_list(org=org, target=deal)) == [on_deal]
    assert on_deal.content_type == samples.XLSX


def test_oversize_upload_is_refused_with_413_and_leaves_nothing(
    backend: Backend, org, user, contact, settings
) -> None:
    settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(ApplicationError) as refused:
        upload(org, user, contact, samples.pdf(padding=2000), "big.pdf")
    assert status_of(refused.value) == 413
    assert "file" in refused.value.field_errors
    assert backend.keys() == []
    assert not Document.objects.exists()
    assert not TimelineEntry.objects.filter(action="document.uploaded").exists()


def test_wrong_type_is_refused_by_content_whatever_the_name(backend: Backend, org, user, contact) -> None:
    with pytest.raises(ApplicationError) as refused:
        upload(org, user, contact, samples.windows_executable(), "invoice.pdf")
    assert status_of(refused.value) == 415
    assert "application/x-msdownload" in refused.value.message
    assert backend.keys() == []
    assert not Document.objects.exists()


def test_a_type_outside_the_configured_allow_list_is_refused(
    backend: Backend, org, user, contact, settings
) -> None:
    settings.DOCUMENTS_ALLOWED_TYPES = ["application/pdf"]
    with pytest.raises(ApplicationError) as refused:
        upload(org, user, contact, samples.png(), "photo.png")
    assert status_of(refused.value) == 415
    assert backend.keys() == []


# --- direct-to-storage uploads ----------------------------------------------------------------


def test_direct_upload_becomes_visible_only_after_a_verified_finish(
    backend: Backend, org, user, deal
) -> None:
    content = samples.office("word")
    started = start(org, user, deal, content, "proposal.docx", samples.DOCX)
    pending = started.document
    assert pending.status == DocumentStatus.PENDING
    assert list(selectors.document_list(org=org, target=deal)) == []
    assert started.upload.fields["Content-Type"] == samples.DOCX

    assert backend.post_form(started.upload.url, started.upload.fields, content, samples.DOCX) in (
        200,
        201,
        204,
    )
    assert backend.keys() == [staging_key(pending.key)]
    assert list(selectors.document_list(org=org, target=deal)) == []

    finished = services.document_upload_finish(org=org, actor=user, document_id=pending.pk)
    assert finished.status == DocumentStatus.READY
    assert backend.keys() == [finished.key]  # moved out of reach of the upload URL
    assert finished.finished_at is not None
    assert list(selectors.document_list(org=org, target=deal)) == [finished]
    assert (
        TimelineEntry.objects.filter(
            target_type="deal", target_id=deal.pk, action="document.uploaded"
        ).count()
        == 1
    )
    # Finishing twice is harmless.
    assert services.document_upload_finish(org=org, actor=user, document_id=pending.pk).pk == finished.pk
    assert TimelineEntry.objects.filter(action="document.uploaded").count() == 1


def test_finish_with_a_tampered_object_is_refused_and_removes_it(
    backend: Backend, org, user, contact, django_capture_on_commit_callbacks
) -> None:
    content = samples.pdf("original")
    tampered = samples.pdf("modified")
    assert len(tampered) == len(content)
    started = start(org, user, contact, content, "contract.pdf", "application/pdf")
    backend.post_form(started.upload.url, started.upload.fields, tampered, "application/pdf")
    assert backend.keys() == [staging_key(started.document.key)]

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError) as refused:
        services.document_upload_finish(org=org, actor=user, document_id=started.document.pk)
    assert status_of(refused.value) == 422
    assert "sha256" in refused.value.field_errors
    assert not Document.objects.exists()
    assert backend.keys() == []


def test_finish_refuses_content_of_another_type_than_announced(
    backend: Backend, org, user, contact, django_capture_on_commit_callbacks
) -> None:
    content = samples.windows_executable()
    started = start(org, user, contact, content, "report.pdf", "application/pdf")
    backend.post_form(started.upload.url, started.upload.fields, content, "application/pdf")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError) as refused:
        services.document_upload_finish(org=org, actor=user, document_id=started.document.pk)
    assert status_of(refused.value) == 415
    assert not Document.objects.exists()
    assert backend.keys() == []


def test_finish_refuses_an_object_of_another_size(
    s3_backend: Backend, org, user, contact, django_capture_on_commit_callbacks
) -> None:
    content = samples.pdf("short")
    started = start(org, user, contact, content, "a.pdf", "application/pdf")
    # Written with the storage's own credentials, bypassing the POST policy's size condition.
    s3_backend.store.write(
        staging_key(started.document.key), io.BytesIO(content + b"extra"), "application/pdf"
    )
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError) as refused:
        services.document_upload_finish(org=org, actor=user, document_id=started.document.pk)
    assert status_of(refused.value) == 422
    assert "size" in refused.value.field_errors
    assert s3_backend.keys() == []
    assert not Document.objects.exists()


def test_finish_before_the_upload_keeps_the_pending_row(backend: Backend, org, user, contact) -> None:
    started = start(org, user, contact, samples.pdf(), "later.pdf", "application/pdf")
    with pytest.raises(ApplicationError) as refused:
        services.document_upload_finish(org=org, actor=user, document_id=started.document.pk)
    assert status_of(refused.value) == 409
    assert Document.objects.get().status == DocumentStatus.PENDING


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"size": 10**12}, 413, "size"),
        ({"size": 0}, 400, "size"),
        ({"content_type": "application/x-msdownload"}, 415, "content_type"),
        ({"sha256": "not-a-checksum"}, 400, "sha256"),
        ({"name": "../"}, 400, "name"),
    ],
)
def test_start_refuses_bad_announcements_and_writes_nothing(
    backend: Backend, org, user, contact, overrides, status, field
) -> None:
    with pytest.raises(ApplicationError) as refused:
        start(org, user, contact, samples.pdf(), "a.pdf", "application/pdf", **overrides)
    assert status_of(refused.value) == status
    assert field in refused.value.field_errors
    assert not Document.objects.exists()


def test_the_s3_upload_policy_binds_key_size_and_type(s3_backend: Backend, org, user, contact) -> None:
    started = start(org, user, contact, samples.pdf(), "a.pdf", "application/pdf")
    fields = started.upload.fields
    assert fields["key"] == staging_key(started.document.key)
    assert "policy" in fields
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", started.document.size, started.document.size] in conditions
    assert {"key": staging_key(started.document.key)} in conditions


def test_the_upload_url_cannot_replace_a_finished_document(backend: Backend, org, user, contact) -> None:
    content = samples.pdf("approved terms")
    started = start(org, user, contact, content, "terms.pdf", "application/pdf")
    backend.post_form(started.upload.url, started.upload.fields, content, "application/pdf")
    finished = services.document_upload_finish(org=org, actor=user, document_id=started.document.pk)
    # The presigned POST is still within its lifetime: sending other bytes does not touch the document.
    backend.post_form(
        started.upload.url, started.upload.fields, samples.pdf("altered terms"), "application/pdf"
    )
    url = backend.store.download_url(
        finished.key, filename="terms.pdf", content_type="application/pdf", expires=60
    )
    assert backend.get(url)[1] == content
    assert (
        services.document_upload_finish(org=org, actor=user, document_id=finished.pk).sha256
        == finished.sha256
    )


# --- tenancy ----------------------------------------------------------------------------------


def test_another_organization_cannot_read_or_finish_a_document(backend: Backend, org, user, contact) -> None:
    from testsupport.factories import make_organization

    other = make_organization()
    document = upload(org, user, contact, samples.png(), "a.png")
    with pytest.raises(ApplicationError) as missing:
        selectors.document_get(org=other, document_id=document.pk)
    assert status_of(missing.value) == 404
    with pytest.raises(ApplicationError) as missing:
        services.document_upload_finish(org=other, actor=None, document_id=document.pk)
    assert status_of(missing.value) == 404
    assert list(selectors.document_list(org=other)) == []


# --- rename -----------------------------------------------------------------------------------


def test_rename_sanitises_and_records_the_change(backend: Backend, org, user, contact) -> None:
    document = upload(org, user, contact, samples.png(), "a.png")
    renamed = services.document_rename(org=org, actor=user, document=document, name="sub/dir/Team photo.png")
    assert renamed.name == "Team photo.png"
    assert renamed.key == document.key
    entry = TimelineEntry.objects.get(action="document.renamed")
    assert entry.changes == {"name": {"old": "a.png", "new": "Team photo.png"}}
    with pytest.raises(ApplicationError):
        services.document_rename(org=org, actor=user, document=document, name="  \x00 ")
    assert Document.objects.get().name == "Team photo.png"


# --- the embedded default's signed URLs -------------------------------------------------------


def test_local_urls_are_signed_expiring_and_bound_to_their_upload(
    backend: Backend, org, user, contact, settings
) -> None:
    from django.core import signing
    from django.test import Client

    content = samples.pdf()
    started = start(org, user, contact, content, "a.pdf", "application/pdf")
    url, fields = started.upload.url, started.upload.fields
    if backend.kind == "s3":
        # In production the stand-ins are off: nothing but the bucket takes uploads.
        assert url.startswith(backend.endpoint.url)  # type: ignore[union-attr]
        forged = signing.dumps(
            {
                "key": staging_key(started.document.key),
                "document": started.document.key,
                "size": len(content),
                "type": "application/pdf",
            },
            salt="stratus.documents.upload",
        )
        assert Client().post(f"/api/v1/documents/local-upload/{forged}/").status_code == 404
        assert backend.store.size(started.document.key) is None
        return
    tampered_token = url.rstrip("/").rsplit("/", 1)[1][:-2] + "xx"
    assert (
        backend.post_form(
            f"/api/v1/documents/local-upload/{tampered_token}/", fields, content, "application/pdf"
        )
        == 403
    )
    assert backend.post_form(url, {"Content-Type": "text/plain"}, content, "text/plain") == 403
    assert backend.post_form(url, fields, content + b"more", "application/pdf") == 400
    assert backend.keys() == []
    assert backend.post_form(url, fields, content, "application/pdf") == 204
    assert backend.post_form(url, fields, content, "application/pdf") == 409  # one upload per URL
    settings.DOCUMENTS_UPLOAD_URL_EXPIRE = -1  # any age is past it: the URL has expired
    assert backend.post_form(url, fields, content, "application/pdf") == 403
