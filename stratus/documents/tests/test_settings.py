"""Storage and document settings come from the environment; bad values stop start-up naming them."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from testsupport.processes import run_python
from testsupport.servers import S3Endpoint

SHOW = """
import json
from django.conf import settings
from django.core.files.storage import storages
print(json.dumps({
    "backend": type(storages["default"]).__name__,
    "max": settings.DOCUMENTS_MAX_UPLOAD_BYTES,
    "inline": settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES,
    "types": settings.DOCUMENTS_ALLOWED_TYPES,
}))
"""


BAD = [
    ("DOCUMENTS_PENDING_MAX_AGE", "600", "expected more seconds than DOCUMENTS_UPLOAD_URL_EXPIRE"),
    ("DOCUMENTS_ALLOWED_TYPES", "application/pdf,application/x-sh", "cannot detect (application/x-sh)"),
    ("DOCUMENTS_MAX_UPLOAD_BYTES", "big", "expected a whole number"),
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", None),
    ("AWS_S3_ADDRESSING_STYLE", "sideways", "expected one of"),
]


@pytest.mark.subprocess
def test_bad_storage_and_document_settings_stop_start_up_naming_each() -> None:
    # Start-up reports every problem at once: one process checks them all.
    result = run_python("import django; django.setup()", env={name: value for name, value, _ in BAD})
    assert result.returncode != 0
    lines = {
        line.split(": ")[2]: line
        for line in result.stderr.splitlines()
        if line.startswith("stratus: configuration error: ")
    }
    for name, _value, reason in BAD:
        if name == "AWS_ACCESS_KEY_ID":  # half a key pair: the missing half is named
            assert "other half of the key pair" in lines["AWS_SECRET_ACCESS_KEY"]
            continue
        assert name in lines, result.stderr
        assert reason is not None
        assert reason in lines[name]


@pytest.mark.subprocess
def test_limits_and_types_are_read_from_the_environment() -> None:
    result = run_python(
        "import django; django.setup()\n" + SHOW,
        env={
            "DOCUMENTS_MAX_UPLOAD_BYTES": "1000",
            "DOCUMENTS_INLINE_UPLOAD_MAX_BYTES": "5000",
            "DOCUMENTS_ALLOWED_TYPES": "application/pdf, image/png",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["backend"] == "FileSystemStorage"
    assert shown["max"] == 1000
    assert shown["inline"] == 1000  # never above the overall maximum
    assert shown["types"] == ["application/pdf", "image/png"]


UPLOAD_THROUGH_SETTINGS = """
import django, io, json
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
name = default_storage.save("documents/probe", ContentFile(b"through the environment"))
print(json.dumps({"backend": type(storages["default"]).__name__, "name": name,
                  "url": default_storage.url(name)}))
"""


@pytest.mark.subprocess
def test_a_process_configured_only_by_environment_uses_the_bucket_with_a_prefix(
    s3_endpoint: S3Endpoint, s3_bucket: str
) -> None:
    prefix = f"tenant-{uuid.uuid4().hex[:6]}"
    result = run_python(UPLOAD_THROUGH_SETTINGS, env=s3_endpoint.env(s3_bucket, location=prefix))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["backend"] == "S3Storage"
    assert s3_endpoint.keys(s3_bucket) == [f"{prefix}/documents/probe"]
    # Private bucket: only the presigned URL reads it.
    assert requests.get(shown["url"], timeout=5).content == b"through the environment"
    assert requests.get(shown["url"].split("?")[0], timeout=5).status_code == 403
