"""Files built by the tests of text extraction (nothing binary is committed): PDFs written
object by object, Word and Excel files through their libraries, and hostile variants."""

from __future__ import annotations

import io
import zipfile
import zlib

import docx
import openpyxl
from pypdf import PdfReader, PdfWriter


def _content(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")


def pdf(pages: list[str], *, shared_stream: bytes | None = None, compress: bool = False) -> bytes:
    """A PDF with one line of text per page (or every page drawing ``shared_stream``)."""
    objects: list[bytes] = []
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    shared_id = 4 + 2 * count
    for index, text in enumerate(pages):
        content_id = shared_id if shared_stream is not None else 5 + 2 * index
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {content_id} 0 R >>".encode()
        )
        objects.append(_stream(_content(text), compress) if shared_stream is None else b"null")
    if shared_stream is not None:
        objects.append(_stream(shared_stream, True))
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _stream(data: bytes, compress: bool) -> bytes:
    if compress:
        packed = zlib.compress(data, 9)
        return (
            f"<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode() + packed + b"\nendstream"
        )
    return f"<< /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def endless_pdf(pages: int = 1500, operators: int = 40_000) -> bytes:
    """Every page draws the same compressed stream of ``operators`` text operations: a few KB
    on disk, minutes of work to read."""
    stream = b"BT /F1 12 Tf 72 720 Td (renewal terms) Tj ET\n" * operators
    return pdf(["" for _ in range(pages)], shared_stream=stream)


def encrypted_pdf(password: str = "s3cret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(["Confidential pricing"]))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_file(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_file(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zip_bomb(source: bytes, member: str, inflated_bytes: int) -> bytes:
    """``source`` (a DOCX or XLSX) with ``member`` replaced by ``inflated_bytes`` of repeated XML,
    which compresses about a thousand to one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as original, zipfile.ZipFile(out, "w") as bomb:
        for info in original.infolist():
            if info.filename != member:
                bomb.writestr(info, original.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
                continue
            head = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            entry = zipfile.ZipInfo(member)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with bomb.open(entry, "w", force_zip64=True) as target:
                target.write(head)
                block = b"<w:p><w:r><w:t>aaaaaaaa</w:t></w:r></w:p>" * 25_000
                written = len(head)
                while written < inflated_bytes:
                    target.write(block)
                    written += len(block)
                target.write(b"</w:body></w:document>")
    return out.getvalue()
