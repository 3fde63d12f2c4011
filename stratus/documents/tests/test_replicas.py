"""Two Stratus server processes share one bucket: any replica serves any file, none keeps one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from stratus.accounts.models import Role
from stratus.crm.models import Contact
from stratus.documents.models import Document, DocumentStatus
from stratus.documents.tests import samples
from testsupport.factories import make_organization, make_token
from testsupport.servers import S3Endpoint, gunicorn_server

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_upload_on_one_replica_download_through_another(
    s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    organization = make_organization("Replicated")
    contact = Contact.objects.create(organization=organization, first_name="Katherine", last_name="Johnson")
    auth = {"Authorization": f"Bearer {make_token(organization, Role.MEMBER)}"}
    storage_env = s3_endpoint.env(s3_bucket, location="replicas")
    with (
        gunicorn_server({**storage_env, "DATA_DIR": str(tmp_path / "a")}) as replica_a,
        gunicorn_server({**storage_env, "DATA_DIR": str(tmp_path / "b")}) as replica_b,
    ):
        small = samples.png()
        created = requests.post(
            f"{replica_a}/api/v1/documents/",
            data={"contact": contact.pk},
            files={"file": ("chart.png", small, "image/png")},
            headers=auth,
            timeout=30,
        )
        assert created.status_code == 201, created.text

        large = samples.pdf("terms", padding=200_000)
        started = requests.post(
            f"{replica_b}/api/v1/documents/uploads/",
            json={
                "contact": contact.pk,
                "name": "terms.pdf",
                "size": len(large),
                "content_type": "application/pdf",
                "sha256": hashlib.sha256(large).hexdigest(),
            },
            headers=auth,
            timeout=30,
        )
        assert started.status_code == 201, started.text
        upload = started.json()["upload"]
        assert upload["url"].startswith(s3_endpoint.url)  # straight to the bucket, not through Stratus
        sent = requests.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("terms.pdf", large, "application/pdf")},
            timeout=30,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        finished = requests.post(
            f"{replica_a}/api/v1/documents/{started.json()['document']['id']}/finish/",
            headers=auth,
            timeout=30,
        )
        assert finished.status_code == 200, finished.text

        for document_id, content in [(created.json()["id"], small), (finished.json()["id"], large)]:
            link = requests.get(
                f"{replica_b}/api/v1/documents/{document_id}/download-url/", headers=auth, timeout=30
            )
            assert link.status_code == 200, link.text
            fetched = requests.get(link.json()["url"], timeout=30)  # no credentials: the URL is the grant
            assert fetched.content == content
            assert fetched.headers["Content-Disposition"].startswith("attachment;")

    assert Document.objects.filter(status=DocumentStatus.READY).count() == 2
    assert all(key.startswith("replicas/documents/") for key in s3_endpoint.keys(s3_bucket))
    assert len(s3_endpoint.keys(s3_bucket)) == 2
    # Neither replica wrote a document to its own disk.
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and "media" in p.parts]
