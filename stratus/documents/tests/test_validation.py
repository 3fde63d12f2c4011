from __future__ import annotations

import pytest

from stratus.documents.tests import samples
from stratus.documents.validation import HEAD_BYTES, detect_type, same_type, sanitize_name


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (samples.png(), "photo.jpg", "image/png"),
        (samples.pdf(), "contract.png", "application/pdf"),
        (samples.office("word"), "notes.xlsx", samples.DOCX),
        (samples.office("xl"), "figures.docx", samples.XLSX),
        (b"name,email\nAda,ada@example.com\n", "leads.csv", "text/csv"),
        ("Grüße aus Köln\r\n".encode(), "hello.pdf", "text/plain"),
        ("Name;Straße\r\nMüller;Königsallee 1\r\n".encode("cp1252"), "export.csv", "text/csv"),
        (b"latin-1 bytes with C1 controls \x85\x81", "odd.txt", None),
        (samples.windows_executable(), "invoice.pdf", "application/x-msdownload"),
        (b"\x00\x01\x02\x03binary", "data.txt", None),
        (b"text with an escape \x1b[31m", "log.txt", None),
        (b"", "empty.txt", None),
    ],
)
def test_type_comes_from_the_content_not_the_name(content: bytes, name: str, expected: str | None) -> None:
    assert detect_type(content[:HEAD_BYTES], name) == expected


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    content = ("é" * HEAD_BYTES).encode()
    assert detect_type(content[:HEAD_BYTES], "a.txt") == "text/plain"


def test_text_subtypes_are_interchangeable_but_nothing_else_is() -> None:
    assert same_type("text/plain", "text/csv")
    assert not same_type("application/pdf", "image/png")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\Quote 2026.pdf", "Quote 2026.pdf"),
        ("  multi   space\tname.txt  ", "multi space name.txt"),
        ("bell\x07and\u202eoverride.pdf", "bellandoverride.pdf"),
        (".htaccess", "htaccess"),
        ("...", ""),
        ("/", ""),
    ],
)
def test_names_are_sanitised(raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected


def test_long_names_keep_their_extension() -> None:
    name = sanitize_name("a" * 400 + ".pdf")
    assert len(name) == 255
    assert name.endswith("a.pdf")
