from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from stratus.accounts.models import User
from stratus.crm.models import Contact
from stratus.documents import services
from stratus.documents.models import Document
from stratus.documents.tests import samples
from stratus.documents.tests.conftest import Backend

pytestmark = pytest.mark.django_db


def test_admin_lists_documents_and_deleting_one_removes_its_object_after_commit(
    s3_backend: Backend, org, user, contact, django_capture_on_commit_callbacks
) -> None:
    document = services.document_upload(
        org=org, actor=user, target=contact, file=SimpleUploadedFile("deck.pdf", samples.pdf())
    )
    admin = User.objects.create_superuser("admin@example.com", "unused-password-1")
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/documents/document/")
    assert listing.status_code == 200
    assert b"deck.pdf" in listing.content
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.post(f"/admin/documents/document/{document.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Document.objects.exists()
    assert s3_backend.keys() == []
    assert Contact.objects.filter(pk=contact.pk).exists()
