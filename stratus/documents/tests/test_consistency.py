"""Objects and rows stay consistent across real commits and rollbacks (no test transaction)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone

from stratus.crm.models import Contact, TimelineEntry
from stratus.documents import services
from stratus.documents.models import Document
from stratus.documents.storage import document_store, staging_key
from stratus.documents.tasks import cleanup_abandoned_uploads
from stratus.documents.tests import samples
from stratus.documents.tests.conftest import Backend
from stratus.documents.tests.test_services import start

pytestmark = pytest.mark.django_db(transaction=True)


def upload(org, user, target, content: bytes, name: str) -> Document:
    file = SimpleUploadedFile(name, content)
    return services.document_upload(org=org, actor=user, target=target, file=file)


def test_delete_removes_the_object_after_commit(backend: Backend, org, user, contact) -> None:
    document = upload(org, user, contact, samples.png(), "a.png")
    with transaction.atomic():
        services.document_delete(org=org, actor=user, document=document)
        # Inside the deleting transaction the object is still there (a rollback must find it).
        assert backend.keys() == [document.key]
    assert backend.keys() == []
    assert not Document.objects.exists()
    assert TimelineEntry.objects.filter(target_id=contact.pk, action="document.deleted").count() == 1


def test_a_rolled_back_delete_keeps_the_object(backend: Backend, org, user, contact) -> None:
    document = upload(org, user, contact, samples.png(), "a.png")

    class Abort(Exception):
        pass

    def delete_then_fail() -> None:
        with transaction.atomic():
            services.document_delete(org=org, actor=user, document=document)
            raise Abort

    with pytest.raises(Abort):
        delete_then_fail()
    assert Document.objects.get().pk == document.pk
    assert backend.keys() == [document.key]
    status, body, _headers = backend.get(
        backend.store.download_url(document.key, filename="a.png", content_type="image/png", expires=60)
    )
    assert (status, body) == (200, samples.png())


def test_deleting_the_record_deletes_its_documents_objects(backend: Backend, org, user, contact) -> None:
    first = upload(org, user, contact, samples.png(), "a.png")
    other_contact = Contact.objects.create(organization=org, first_name="Kept")
    kept = upload(org, user, other_contact, samples.pdf(), "b.pdf")
    assert sorted(backend.keys()) == sorted([first.key, kept.key])
    contact.delete()
    assert backend.keys() == [kept.key]
    assert list(Document.objects.all()) == [kept]


def test_cleanup_removes_abandoned_uploads_and_orphans_but_never_a_committed_document(
    backend: Backend, org, user, contact
) -> None:
    kept = upload(org, user, contact, samples.png(), "kept.png")
    abandoned = start(org, user, contact, samples.pdf("old"), "abandoned.pdf", "application/pdf")
    backend.post_form(abandoned.upload.url, abandoned.upload.fields, samples.pdf("old"), "application/pdf")
    fresh = start(org, user, contact, samples.pdf("new"), "fresh.pdf", "application/pdf")
    backend.post_form(fresh.upload.url, fresh.upload.fields, samples.pdf("new"), "application/pdf")
    orphan_key = f"documents/{org.pk}/0123456789abcdef0123456789abcdef"
    backend.store.write(orphan_key, io.BytesIO(b"left behind"), "text/plain")
    two_days_ago = timezone.now() - timedelta(days=2)
    Document.objects.filter(pk__in=[kept.pk, abandoned.document.pk]).update(created_at=two_days_ago)

    report = services.documents_cleanup(older_than=timedelta(days=1))
    # Every object was written just now: only the old pending row goes, with its object.
    assert (report.pending_rows, report.orphan_objects) == (1, 0)
    assert set(Document.objects.values_list("pk", flat=True)) == {kept.pk, fresh.document.pk}
    assert sorted(backend.keys()) == sorted([kept.key, staging_key(fresh.document.key), orphan_key])

    # Two days later the fresh pending upload is abandoned too and the orphan object is old;
    # the finished document's object is as old, but a committed row names it: it stays.
    later = timezone.now() + timedelta(days=2)
    report = services.documents_cleanup(older_than=timedelta(days=1), now=later)
    assert (report.pending_rows, report.orphan_objects) == (1, 1)
    assert list(Document.objects.values_list("pk", flat=True)) == [kept.pk]
    assert backend.keys() == [kept.key]


def test_cleanup_command_reports_what_it_removed(backend: Backend, org, user, contact) -> None:
    from django.core.management import call_command

    started = start(org, user, contact, samples.pdf(), "a.pdf", "application/pdf")
    Document.objects.filter(pk=started.document.pk).update(created_at=timezone.now() - timedelta(days=3))
    out = io.StringIO()
    call_command("cleanup_documents", "--older-than", "86400", stdout=out)
    assert "1 abandoned upload" in out.getvalue()
    assert not Document.objects.exists()


def test_the_periodic_task_removes_abandoned_uploads(s3_backend: Backend, org, user, contact) -> None:
    started = start(org, user, contact, samples.pdf(), "a.pdf", "application/pdf")
    s3_backend.post_form(started.upload.url, started.upload.fields, samples.pdf(), "application/pdf")
    Document.objects.filter(pk=started.document.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert cleanup_abandoned_uploads.apply().get() == {"pending_rows": 1, "orphan_objects": 0}
    assert not Document.objects.exists()
    assert s3_backend.keys() == []
    # Running it again finds nothing: safe to repeat.
    assert cleanup_abandoned_uploads.apply().get() == {"pending_rows": 0, "orphan_objects": 0}


def test_local_download_url_is_refused_once_tampered_or_deleted(
    tmp_path, settings, org, user, contact
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    document = upload(org, user, contact, samples.png(), "a.png")
    url = document_store().download_url(document.key, filename="a.png", content_type="image/png", expires=60)
    assert Client().get(url).status_code == 200
    assert Client().get(url.rstrip("/")[:-3] + "xyz/").status_code == 403
    services.document_delete(org=org, actor=user, document=document)
    assert Client().get(url).status_code == 404
