"""Only character-set encodings are accepted for a CSV file; anything else is a 400 naming ``encoding``."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stratus.accounts.models import Role
from stratus.imports.models import ImportJob

pytestmark = pytest.mark.django_db

# Codecs Python knows that are not character sets (transforms, binary codecs, special codecs).
NOT_TEXT = [
    "rot13",
    "rot_13",
    "zlib_codec",
    "zlib",
    "base64",
    "hex",
    "bz2",
    "uu",
    "quopri",
    "punycode",
    "undefined",
    "idna",
    "unicode_escape",
    "raw_unicode_escape",
]
UNKNOWN = ["no-such-encoding", "utf-9", "../etc/passwd"]
CONTENT = "Name,Email\nJosé Müller,jose@example.com\n"
GOOD = {
    "utf-8": ("utf-8", CONTENT.encode("utf-8")),
    "UTF8": ("utf-8", CONTENT.encode("utf-8")),
    "latin-1": ("iso8859-1", CONTENT.encode("latin-1")),
    "cp1252": ("cp1252", CONTENT.encode("cp1252")),
    "windows-1252": ("cp1252", CONTENT.encode("cp1252")),
    "utf-8-sig": ("utf-8-sig", CONTENT.encode("utf-8-sig")),
    "utf-16": ("utf-16", CONTENT.encode("utf-16")),
}
ENDPOINTS = ["/api/v1/imports/analyse", "/api/v1/imports"]


def _upload(client, path: str, encoding: str, content: bytes):
    return client.post(
        path,
        {"file": SimpleUploadedFile("people.csv", content), "kind": "contacts", "encoding": encoding},
        format="multipart",
    )


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("encoding", NOT_TEXT + UNKNOWN)
def test_a_codec_that_is_not_a_character_set_is_a_400_naming_encoding(api_client, path, encoding) -> None:
    response = _upload(api_client(Role.MEMBER), path, encoding, CONTENT.encode())
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["encoding"]
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("encoding", list(GOOD))
def test_character_sets_are_accepted_under_their_canonical_name(api_client, path, encoding) -> None:
    canonical, content = GOOD[encoding]
    response = _upload(api_client(Role.MEMBER), path, encoding, content)
    assert response.status_code in (200, 202), response.content
    assert response.json()["encoding"] == canonical
    if path == "/api/v1/imports":
        job = ImportJob.objects.get()
        assert job.encoding == canonical
        assert job.headers == ["Name", "Email"]


def test_a_file_not_in_its_stated_encoding_is_a_400_naming_encoding(api_client) -> None:
    content = "Name\nJosé\n".encode("latin-1")
    response = _upload(api_client(Role.MEMBER), "/api/v1/imports/analyse", "utf-8", content)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["encoding"]


def test_exports_take_no_encoding(api_client) -> None:
    # Exports are always UTF-8 with a BOM; an encoding parameter is an unknown filter, not a 500.
    response = api_client(Role.MEMBER).get("/api/v1/exports/contacts.csv", {"encoding": "rot13"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["encoding"]
