"""Searchable text of documents: extraction per format in a limited child process, the outcome
stored on the document and signalled, the sweep, and hostile files (all built here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from stratus.documents import services
from stratus.documents.models import Document, DocumentText, TextReason, TextStatus
from stratus.documents.tests import text_files
from stratus.documents.tests.conftest import Backend
from stratus.documents.text import services as text_services
from stratus.documents.text.chunks import chunk_text
from stratus.documents.text.signals import document_text_ready, document_text_removed

# Every test here runs the extraction child process.
pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]


def upload(org, user, target, content: bytes, name: str) -> Document:
    file = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return services.document_upload(org=org, actor=user, target=target, file=file)


class Heard:
    def __init__(self) -> None:
        self.ready: list[tuple[int, int]] = []
        self.removed: list[tuple[int, int]] = []

    def on_ready(self, sender: Any, document: Document, org: Any, **_: Any) -> None:
        self.ready.append((document.pk, org.pk))

    def on_removed(self, sender: Any, document: Document, org: Any, **_: Any) -> None:
        self.removed.append((document.pk, org.pk))


@pytest.fixture
def heard() -> Any:
    listener = Heard()
    document_text_ready.connect(listener.on_ready)
    document_text_removed.connect(listener.on_removed)
    yield listener
    document_text_ready.disconnect(listener.on_ready)
    document_text_removed.disconnect(listener.on_removed)


def extract(document: Document) -> Document:
    text_services.document_text_extract(document_id=document.pk)
    document.refresh_from_db()
    return document


def test_an_upload_queues_its_extraction_after_commit(
    backend: Backend, org, user, contact, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        document = upload(org, user, contact, b"Renewal terms for Acme.", "terms.txt")
    assert document.text_status == TextStatus.PENDING
    assert len(callbacks) >= 1  # the live event and the extraction's wake-up


def test_pdf_text_keeps_its_pages_and_signals_the_indexer(backend: Backend, org, user, deal, heard) -> None:
    content = text_files.pdf(["Acme asked for a discount on seats.", "Renewal is due in March."])
    document = extract(upload(org, user, deal, content, "Acme proposal.pdf"))

    assert document.text_status == TextStatus.SEARCHABLE
    assert document.text_reason == ""
    stored = DocumentText.objects.get(document=document)
    assert stored.organization_id == org.pk
    assert stored.sha256 == document.sha256
    assert "discount on seats" in stored.text
    assert len(stored.page_starts) == 2
    chunks = chunk_text(stored.text, page_starts=stored.page_starts, size=200, overlap=20)
    assert [(c.page, "Renewal" in c.text) for c in chunks] == [(1, False), (2, True)]
    assert heard.ready == [(document.pk, org.pk)]


def test_word_and_excel_text(backend: Backend, org, user, company) -> None:
    word = upload(
        org,
        user,
        company,
        text_files.docx_file(["Onboarding took six weeks."], [["Plan", "Seats"], ["Pro", "40"]]),
        "notes.docx",
    )
    sheet = upload(
        org,
        user,
        company,
        text_files.xlsx_file({"Pricing": [["Plan", "Price"], ["Enterprise", 990]]}),
        "p.xlsx",
    )
    assert extract(word).text_status == TextStatus.SEARCHABLE
    assert extract(sheet).text_status == TextStatus.SEARCHABLE
    assert (
        DocumentText.objects.get(document=word).text == "Onboarding took six weeks.\nPlan\tSeats\nPro\t40\n"
    )
    assert "Pricing\nPlan\tPrice\nEnterprise\t990" in DocumentText.objects.get(document=sheet).text


def test_plain_text_and_html_without_scripts(backend: Backend, org, user, contact) -> None:
    french = (
        "Le client a signalé que la mise en route était trop lente. Le responsable des achats "
        "préfère un contrat annuel, révisé chaque année, avec une pénalité en cas de retard."
    )
    note = upload(org, user, contact, b"\xef\xbb\xbf" + french.encode(), "note.txt")
    page = upload(
        org,
        user,
        contact,
        b"<!DOCTYPE html><html><head><title>x</title><style>p{color:red}</style></head>"
        b"<body><h1>Security review</h1><p>SSO &amp; audit logs</p><script>steal()</script></body></html>",
        "review.html",
    )
    assert extract(note).text_status == TextStatus.SEARCHABLE
    assert DocumentText.objects.get(document=note).text == french  # without the BOM
    assert extract(page).text_status == TextStatus.SEARCHABLE
    assert DocumentText.objects.get(document=page).text == "Security review\nSSO & audit logs"


@pytest.mark.parametrize(
    "text",
    [
        "Die Überweisung für die Größe der Lizenz wurde geändert; Grüße aus München. " * 4,
        "Café crème, naïve résumé.",
        "Name;Straße\r\nMüller;Königsallee 1\r\n",
    ],
)
def test_text_in_windows_1252_is_decoded(text: str) -> None:
    from stratus.documents.text.child import decode

    assert decode(text.encode("cp1252")) == text


def test_a_windows_1252_csv_export_is_accepted_and_read(backend: Backend, org, user, contact) -> None:
    text = "Firma;Ansprechpartner;Notiz\r\nMüller GmbH;Jürgen Weiß;Verlängerung um 2 Jahre geprüft\r\n"
    document = upload(org, user, contact, text.encode("cp1252"), "export.csv")
    assert document.content_type == "text/csv"
    assert extract(document).text_status == TextStatus.SEARCHABLE
    assert DocumentText.objects.get(document=document).text == text


def not_searchable(document: Document, reason: str) -> None:
    document.refresh_from_db()
    assert document.text_status == TextStatus.NOT_SEARCHABLE
    assert document.text_reason == reason
    assert document.text_detail
    assert not DocumentText.objects.filter(document=document).exists()


def test_a_pdf_with_too_many_pages_is_not_searchable(
    backend: Backend, org, user, contact, settings, heard
) -> None:
    settings.DOCUMENTS_TEXT_MAX_PAGES = 5
    document = extract(upload(org, user, contact, text_files.pdf(["page"] * 6), "long.pdf"))
    not_searchable(document, TextReason.TOO_LARGE)
    assert "6 pages" in document.text_detail
    assert heard.ready == []


def test_too_much_text_is_not_searchable(backend: Backend, org, user, contact, settings) -> None:
    settings.DOCUMENTS_TEXT_MAX_CHARS = 100
    document = extract(upload(org, user, contact, b"word " * 30, "long.txt"))
    not_searchable(document, TextReason.TOO_LARGE)


def test_an_endless_pdf_is_stopped_by_the_timeout(backend: Backend, org, user, contact, settings) -> None:
    settings.DOCUMENTS_TEXT_TIMEOUT = 3
    document = extract(upload(org, user, contact, text_files.endless_pdf(), "endless.pdf"))
    not_searchable(document, TextReason.TIMEOUT)


def test_a_zip_bomb_docx_is_refused_before_it_is_inflated(
    backend: Backend, org, user, contact, settings
) -> None:
    settings.DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES = 5_000_000
    bomb = text_files.zip_bomb(text_files.docx_file(["x"]), "word/document.xml", 40_000_000)
    assert len(bomb) < 200_000  # a small file that claims 40 MB
    document = extract(upload(org, user, contact, bomb, "bomb.docx"))
    not_searchable(document, TextReason.TOO_LARGE)
    assert "expands to" in document.text_detail


def test_a_zip_bomb_xlsx_is_refused(backend: Backend, org, user, contact, settings) -> None:
    settings.DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES = 5_000_000
    bomb = text_files.zip_bomb(text_files.xlsx_file({"S": [["a"]]}), "xl/worksheets/sheet1.xml", 40_000_000)
    document = extract(upload(org, user, contact, bomb, "bomb.xlsx"))
    not_searchable(document, TextReason.TOO_LARGE)


def test_the_memory_cap_stops_a_file_that_inflates_past_it(
    backend: Backend, org, user, contact, settings
) -> None:
    # The ZIP check is relaxed to let the inflation reach the memory cap of the child.
    settings.DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES = 2**31
    settings.DOCUMENTS_TEXT_MAX_MEMORY = 256 * 2**20
    bomb = text_files.zip_bomb(text_files.docx_file(["x"]), "word/document.xml", 300_000_000)
    document = extract(upload(org, user, contact, bomb, "bomb.docx"))
    not_searchable(document, TextReason.MEMORY)


def test_encrypted_corrupt_and_unsupported_files(backend: Backend, org, user, contact) -> None:
    locked = upload(org, user, contact, text_files.encrypted_pdf(), "locked.pdf")
    broken_pdf = upload(org, user, contact, b"%PDF-1.7\n1 0 obj << /Type /Catalog", "broken.pdf")
    word = text_files.docx_file(["Renewal terms"])
    broken_word = upload(org, user, contact, word[: len(word) // 2], "broken.docx")
    image = upload(org, user, contact, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "logo.png")
    scan = upload(org, user, contact, text_files.pdf([""]), "scan.pdf")

    not_searchable(extract(locked), TextReason.ENCRYPTED)
    not_searchable(extract(broken_pdf), TextReason.CORRUPT)
    assert broken_word.content_type.endswith("wordprocessingml.document")
    not_searchable(extract(broken_word), TextReason.CORRUPT)
    not_searchable(extract(image), TextReason.UNSUPPORTED_TYPE)
    not_searchable(extract(scan), TextReason.NO_TEXT)


def test_extraction_is_idempotent_and_skips_what_another_worker_holds(
    backend: Backend, org, user, contact, heard
) -> None:
    document = upload(org, user, contact, b"Renewal terms.", "a.txt")
    Document.objects.filter(pk=document.pk).update(text_attempts=1, text_attempted_at=timezone.now())
    assert text_services.document_text_extract(document_id=document.pk) == "skipped"

    Document.objects.filter(pk=document.pk).update(text_attempted_at=timezone.now() - timedelta(hours=1))
    assert text_services.document_text_extract(document_id=document.pk) == "searchable"
    assert text_services.document_text_extract(document_id=document.pk) == "skipped"
    assert heard.ready == [(document.pk, org.pk)]
    assert Document.objects.get(pk=document.pk).text_attempts == 2


def test_the_sweep_requeues_lost_work_and_gives_up_after_the_attempts(
    backend: Backend, org, user, contact, settings, django_capture_on_commit_callbacks
) -> None:
    settings.DOCUMENTS_TEXT_MAX_ATTEMPTS = 2
    fresh = upload(org, user, contact, b"one", "a.txt")
    running = upload(org, user, contact, b"two", "b.txt")
    killed = upload(org, user, contact, b"three", "c.txt")
    long_ago = timezone.now() - timedelta(hours=1)
    Document.objects.filter(pk=running.pk).update(text_attempts=1, text_attempted_at=timezone.now())
    Document.objects.filter(pk=killed.pk).update(text_attempts=2, text_attempted_at=long_ago)

    with django_capture_on_commit_callbacks():
        queued = text_services.documents_text_sweep()
    assert sorted(queued) == sorted([fresh.pk, killed.pk])

    assert text_services.document_text_extract(document_id=killed.pk) == "skipped"
    not_searchable(killed, TextReason.FAILED)


def test_reextraction_replaces_the_text_and_signals_a_removal(
    backend: Backend, org, user, contact, settings, heard
) -> None:
    document = extract(upload(org, user, contact, b"Renewal terms: net 30.", "terms.txt"))
    assert document.text_status == TextStatus.SEARCHABLE
    settings.DOCUMENTS_TEXT_MAX_CHARS = 5
    assert text_services.documents_text_reset(org=org) == 1
    not_searchable(extract(document), TextReason.TOO_LARGE)
    assert heard.removed == [(document.pk, org.pk)]


def test_a_document_deleted_after_its_claim_stores_nothing(backend: Backend, org, user, contact) -> None:
    document = upload(org, user, contact, b"gone", "gone.txt")
    claimed = text_services._claim(document.pk)
    assert claimed is not None
    services.document_delete(org=org, actor=user, document=document)
    assert text_services.document_text_extract(document_id=document.pk) == "skipped"
    assert not DocumentText.objects.exists()


def test_the_api_and_the_record_page_say_why_a_document_is_not_searchable(
    backend: Backend, org, user, contact
) -> None:
    from django.template.loader import render_to_string

    from stratus.documents.api import DocumentSerializer

    locked = extract(upload(org, user, contact, text_files.encrypted_pdf(), "locked.pdf"))
    readable = extract(upload(org, user, contact, b"Renewal terms.", "terms.txt"))
    waiting = upload(org, user, contact, b"Later.", "later.txt")

    data = DocumentSerializer(locked).data
    assert (data["text_status"], data["text_reason"]) == ("not_searchable", "encrypted")
    assert data["text_detail"] == "The PDF is protected by a password."
    data = DocumentSerializer(readable).data
    assert (data["text_status"], data["text_reason"], data["text_detail"]) == ("searchable", None, "")

    html = render_to_string(
        "web/records/_documents.html", {"documents": [locked, readable, waiting], "urls": {"documents": "/d"}}
    )
    assert html.count('data-testid="document-not-searchable"') == 1
    assert "Not searchable: The file is encrypted. The PDF is protected by a password." in html
    assert html.count('data-testid="document-text-pending"') == 1


def test_the_command_marks_documents_for_extraction_again(backend: Backend, org, user, contact) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    readable = extract(upload(org, user, contact, b"Renewal terms.", "terms.txt"))
    refused = extract(upload(org, user, contact, text_files.encrypted_pdf(), "locked.pdf"))
    out = StringIO()
    call_command("extract_document_text", "--org", str(org.pk), "--not-searchable", stdout=out)
    assert "1 document(s) marked" in out.getvalue()
    refused.refresh_from_db()
    readable.refresh_from_db()
    assert (refused.text_status, refused.text_reason, refused.text_attempts) == (TextStatus.PENDING, "", 0)
    assert readable.text_status == TextStatus.SEARCHABLE
    with pytest.raises(CommandError, match="--org"):
        call_command("extract_document_text", "--org", "999999999")


def test_a_killed_worker_leaves_no_reader_behind(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from testsupport.background import wait_for
    from testsupport.processes import PROJECT_DIR, child_env

    endless = tmp_path / "endless.pdf"
    endless.write_bytes(text_files.endless_pdf())
    code = (
        "import django; django.setup()\n"
        "from stratus.documents.text.sandbox import extract_file\n"
        f"extract_file({str(endless)!r}, content_type='application/pdf', name='endless.pdf')\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=child_env({"DJANGO_SETTINGS_MODULE": "stratus.settings", "DOCUMENTS_TEXT_TIMEOUT": "300"}),
    )
    children = f"/proc/{parent.pid}/task/{parent.pid}/children"

    def reader() -> int | None:
        with open(children) as listing:
            pids = listing.read().split()
        return int(pids[0]) if pids else None

    try:
        wait_for(reader, 60, "the extraction child to start")
        child = reader()
        assert child is not None
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)

    def gone() -> bool:
        try:
            with open(f"/proc/{child}/stat") as stat:
                return stat.read().split(") ")[1].startswith("Z")  # a zombie until reaped
        except FileNotFoundError:
            return True

    wait_for(gone, 10, "the orphaned extraction child to die")
