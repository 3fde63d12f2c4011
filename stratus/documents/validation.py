"""What a document may be: its type judged by content (magic bytes), and a safe display name.

Types are detected with ``filetype`` (signatures of the file's first bytes, and for Office
Open XML the entries of the ZIP container), never from the client's Content-Type or the file
name's extension. Plain text and CSV have no signature: they are accepted when the first
bytes are UTF-8 (or Windows-1252) without control characters, and the name's extension only chooses between
``text/csv`` and ``text/plain`` (both are served as attachments with ``nosniff``). Text in
Windows-1252 (CSV and text exports of older Windows software) is text too; the search text
extraction detects its encoding.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata

import filetype

# How many leading bytes detection reads (enough for every signature and for the ZIP entry
# names that tell DOCX, XLSX and PPTX apart).
HEAD_BYTES = 8192

TEXT_TYPES = ("text/plain", "text/csv")

# Detectable types a CRM user attaches: documents, spreadsheets, slides, images, text.
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document (DOCX)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel workbook (XLSX)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint (PPTX)",
    "application/vnd.oasis.opendocument.text": "OpenDocument text (ODT)",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet (ODS)",
    "application/vnd.oasis.opendocument.presentation": "OpenDocument presentation (ODP)",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "text/plain": "plain text",
    "text/csv": "CSV",
}

_ALLOWED_CONTROL = {"\t", "\n", "\r", "\f"}
_WHITESPACE = re.compile(r"\s+")
MAX_NAME_LENGTH = 255


def _decoded(head: bytes) -> str | None:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end inside a multi-byte character; anything earlier must be UTF-8.
        if error.start >= len(head) - 3 and len(head) >= HEAD_BYTES:
            return head[: error.start].decode("utf-8", "replace")
    # Not UTF-8: text from older Windows and Office exports (Windows-1252, a superset of the
    # printable Latin-1) is still text; binary content shows control characters here.
    try:
        return head.decode("cp1252")
    except UnicodeDecodeError:
        return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    text = _decoded(head)
    if text is None:
        return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROL for ch in text)


def detect_type(head: bytes, name: str = "") -> str | None:
    """The MIME type of content starting with ``head``, or None when it is not recognised.

    ``name`` is consulted only after the content proved to be text, to tell CSV from plain text.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if _looks_like_text(head):
        return "text/csv" if name.lower().endswith(".csv") else "text/plain"
    return None


def same_type(declared: str, detected: str) -> bool:
    """Whether content detected as ``detected`` honours a declared type (text subtypes are one)."""
    if declared == detected:
        return True
    return declared in TEXT_TYPES and detected in TEXT_TYPES


def sanitize_name(raw: str) -> str:
    """A display name safe to store and to send in Content-Disposition.

    Keeps only the last path component (either separator), drops control and format
    characters, collapses whitespace, trims leading dots, and shortens to 255 characters
    keeping the extension. Returns "" when nothing is left.
    """
    name = unicodedata.normalize("NFC", raw).replace("\\", "/")
    name = _WHITESPACE.sub(" ", posixpath.basename(name))
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"})
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name
