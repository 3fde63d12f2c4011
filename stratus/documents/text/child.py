"""Reads the text of one file; run by the worker as a child process (``python -m ...``).

The child caps its own address space (``RLIMIT_AS``) and CPU time before it imports or reads
anything, so a hostile file (a zip bomb, a PDF whose streams inflate to gigabytes, an endless
page tree) can only exhaust this process: the worker waits for it with a wall-clock timeout
and kills it past that. Django is not loaded here; the limits come as a JSON argument.

Usage: ``python -m stratus.documents.text.child PATH CONTENT_TYPE NAME LIMITS_JSON``. It writes
one JSON object to stdout: ``{"text": ..., "page_starts": [...]}`` or
``{"reason": ..., "detail": ...}``. Exit status ``MEMORY_EXIT`` means the memory cap was hit.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

MEMORY_EXIT = 86
PR_SET_PDEATHSIG = 1

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_TYPES = ("text/plain", "text/csv", "text/html")
HTML_NAMES = (".html", ".htm", ".xhtml")


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_chars: int
    max_unzipped_bytes: int
    max_memory: int
    cpu_seconds: int


class NotSearchable(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class TextBuffer:
    """Collects text and refuses to grow past ``max_chars``; remembers where each page starts."""

    def __init__(self, max_chars: int) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.max_chars = max_chars
        self.page_starts: list[int] = []

    def start_page(self) -> None:
        self.page_starts.append(self.length)

    def add(self, text: str) -> None:
        if not text:
            return
        self.length += len(text)
        if self.length > self.max_chars:
            raise NotSearchable("too_large", f"More than {self.max_chars:,} characters of text.")
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


# --- formats ------------------------------------------------------------------------------------


def read_pdf(path: str, limits: Limits) -> TextBuffer:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    buffer = TextBuffer(limits.max_chars)
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:  # many PDFs are "encrypted" with an empty password only to restrict printing
                decrypted = bool(reader.decrypt(""))
            except (FileNotDecryptedError, NotImplementedError, PdfReadError):
                decrypted = False
            if not decrypted:
                raise NotSearchable("encrypted", "The PDF is protected by a password.")
        count = len(reader.pages)
        if count > limits.max_pages:
            raise NotSearchable("too_large", f"{count:,} pages; at most {limits.max_pages:,} are read.")
        for page in reader.pages:
            buffer.start_page()
            buffer.add(page.extract_text() or "")
            buffer.add("\n\n")
    except FileNotDecryptedError:
        raise NotSearchable("encrypted", "The PDF is protected by a password.") from None
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
    ) as error:
        raise NotSearchable("corrupt", f"The PDF could not be read ({type(error).__name__}).") from None
    return buffer


def check_zip(path: str, limits: Limits) -> None:
    """Refuse a ZIP container that would expand beyond the limit, before any XML is parsed.

    Reading an entry stops at its declared size (and fails on a CRC mismatch), so the declared
    sizes bound what the libraries below can inflate."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as error:
        raise NotSearchable("corrupt", f"The file is not a valid ZIP container ({error}).") from None
    if total > limits.max_unzipped_bytes:
        raise NotSearchable(
            "too_large",
            f"The file expands to {total:,} bytes; at most {limits.max_unzipped_bytes:,} are read.",
        )


def read_docx(path: str, limits: Limits) -> TextBuffer:
    check_zip(path, limits)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    buffer = TextBuffer(limits.max_chars)
    try:
        document = docx.Document(path)
        for paragraph in document.paragraphs:
            buffer.add(paragraph.text + "\n")
        for table in document.tables:
            for row in table.rows:
                buffer.add("\t".join(cell.text for cell in row.cells) + "\n")
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise NotSearchable("corrupt", f"The Word file could not be read ({type(error).__name__}).") from None
    except SyntaxError as error:  # lxml's XMLSyntaxError
        raise NotSearchable("corrupt", f"The Word file holds invalid XML ({error.msg}).") from None
    return buffer


def read_xlsx(path: str, limits: Limits) -> TextBuffer:
    check_zip(path, limits)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    buffer = TextBuffer(limits.max_chars)
    try:
        # From an open file: given a path, openpyxl judges the file by its extension.
        with open(path, "rb") as handle:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                for sheet in workbook.worksheets:
                    buffer.add(f"{sheet.title}\n")
                    for row in sheet.iter_rows(values_only=True):
                        cells = [str(value) for value in row if value is not None and str(value).strip()]
                        if cells:
                            buffer.add("\t".join(cells) + "\n")
                    buffer.add("\n")
            finally:
                workbook.close()
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise NotSearchable("corrupt", f"The workbook could not be read ({type(error).__name__}).") from None
    except SyntaxError as error:
        raise NotSearchable("corrupt", f"The workbook holds invalid XML ({error.msg}).") from None
    return buffer


def decode(data: bytes) -> str:
    """Text of unknown encoding: UTF-8 (with or without BOM) first, else the detected encoding."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise NotSearchable("corrupt", "The text's encoding could not be recognised.")
    # Short Western text fits several single-byte code pages equally well: prefer Windows-1252,
    # the one such files come in (and the one the upload check accepts), when it fits as well.
    for match in matches:
        if match.encoding == "cp1252" and match.percent_chaos <= best.percent_chaos:
            return str(match)
    return str(best)


class _HTMLText(HTMLParser):
    """The visible text of an HTML page: scripts, styles and templates dropped, blocks on new lines."""

    SKIPPED = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe", "object"})
    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table",
         "ul", "ol", "blockquote", "pre", "hr", "td", "th", "title", "header", "footer", "dt", "dd"}
    )  # fmt: skip

    def __init__(self, buffer: TextBuffer) -> None:
        super().__init__(convert_charrefs=True)
        self.buffer = buffer
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.buffer.add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.buffer.add("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.buffer.add(data)


def looks_like_html(text: str, name: str) -> bool:
    if name.lower().endswith(HTML_NAMES):
        return True
    start = text.lstrip()[:200].lower()
    return start.startswith(("<!doctype html", "<html"))


def read_text(path: str, name: str, limits: Limits) -> TextBuffer:
    # A character is at most 4 bytes in any encoding read here: more bytes than that is too much.
    with open(path, "rb") as handle:
        data = handle.read(limits.max_chars * 4 + 1)
    if len(data) > limits.max_chars * 4:
        raise NotSearchable("too_large", f"More than {limits.max_chars:,} characters of text.")
    text = decode(data)
    buffer = TextBuffer(limits.max_chars)
    if looks_like_html(text, name):
        parser = _HTMLText(buffer)
        parser.feed(text)
        parser.close()
        lines = (line.strip() for line in buffer.text().splitlines())
        buffer = TextBuffer(limits.max_chars)
        buffer.add("\n".join(line for line in lines if line))
    else:
        buffer.add(text)
    return buffer


def extract(path: str, content_type: str, name: str, limits: Limits) -> dict[str, Any]:
    """The text of the file at ``path``, or why there is none, as the JSON object described above."""
    try:
        if content_type == PDF:
            buffer = read_pdf(path, limits)
        elif content_type == DOCX:
            buffer = read_docx(path, limits)
        elif content_type == XLSX:
            buffer = read_xlsx(path, limits)
        elif content_type in TEXT_TYPES:
            buffer = read_text(path, name, limits)
        else:
            raise NotSearchable("unsupported_type", f"Text is not read from {content_type} files.")
    except NotSearchable as refusal:
        return {"reason": refusal.reason, "detail": refusal.detail}
    return {"text": buffer.text(), "page_starts": buffer.page_starts if content_type == PDF else []}


def die_with_parent() -> None:
    """Linux: the kernel kills this process when the worker that started it dies (a worker
    killed mid-extraction leaves no reader behind)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # elsewhere the CPU-time limit still ends it
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def cap_resources(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.max_memory, limits.max_memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    path, content_type, name, raw_limits = argv
    limits = Limits(**json.loads(raw_limits))
    die_with_parent()
    cap_resources(limits)
    sys.setrecursionlimit(5000)
    try:
        result = extract(path, content_type, name, limits)
        output = json.dumps(result, ensure_ascii=False)
    except MemoryError:
        return MEMORY_EXIT
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
