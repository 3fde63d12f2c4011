"""Reading the head of a CSV file: encoding, delimiter, header row, column mapping.

Everything here runs on the upload request, so that a file that cannot be imported gets a
clear error at once (empty, not in the stated encoding, no header, a required column
missing) instead of a failed background job.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stratus.imports.errors import ImportCode
from stratus.imports.models import DedupPolicy, ImportKind
from stratus.platform.errors import ApplicationError, Invalid

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
MAX_COLUMNS = 200

CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "firstname", "given name", "forename", "first"),
    "last_name": ("last name", "lastname", "surname", "family name", "last"),
    "full_name": ("name", "full name", "contact name", "contact"),
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell"),
    "job_title": ("job title", "title", "position", "role"),
    "company": ("company", "company name", "organization", "organisation", "account", "employer"),
    "owner": ("owner", "owner email", "sales rep", "assigned to"),
    "tags": ("tags", "labels", "tag"),
}
COMPANY_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "company", "company name", "organization", "organisation", "account", "account name"),
    "domain": ("domain", "web domain", "email domain"),
    "website": ("website", "web site", "url", "homepage", "web"),
    "phone": ("phone", "phone number", "telephone", "tel"),
    "industry": ("industry", "sector"),
    "city": ("city", "town"),
    "country": ("country", "country code"),
    "description": ("description", "notes", "about"),
    "owner": ("owner", "owner email", "sales rep", "assigned to"),
    "tags": ("tags", "labels", "tag"),
}
CUSTOM_PREFIX = "custom."


def fields_for(kind: str) -> dict[str, tuple[str, ...]]:
    return CONTACT_FIELDS if kind == ImportKind.CONTACTS else COMPANY_FIELDS


def normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", header.lower()).strip()


@dataclass(frozen=True)
class Head:
    encoding: str
    delimiter: str
    headers: list[str]
    has_rows: bool


def _encoding_error(error: UnicodeDecodeError, encoding: str, sample: bytes) -> ApplicationError:
    line = sample[: error.start].count(b"\n") + 1
    byte = sample[error.start : error.start + 1].hex().upper()
    return Invalid(
        f"The file is not valid {encoding}: byte 0x{byte} on line {line}. Save it as UTF-8, or give its "
        "encoding (for example windows-1252, latin-1 or utf-16).",
        field_errors={"encoding": [f"The file is not {encoding} (byte 0x{byte} on line {line})."]},
        code=ImportCode.ENCODING,
    )


# Codecs that decode bytes to text but are not character sets a file is written in.
NOT_FILE_ENCODINGS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "mbcs", "oem"}
)


def text_encoding(name: str) -> str:
    """The canonical name of a character-set encoding (``latin_1`` -> ``iso8859-1``).

    Python's codec registry also holds transforms (``rot13``, ``base64``, ``zlib``, ``hex``,
    ``bz2``, ``uu``) and codecs that are not file encodings (``punycode``, ``undefined``): these
    are refused like unknown names, as a 400 naming ``encoding``.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    canonical = info.name.replace("_", "-") if info is not None else ""
    if info is None or not info._is_text_encoding or canonical in NOT_FILE_ENCODINGS:
        raise Invalid(
            f"Unknown or unsupported encoding {name!r}: give a character set such as utf-8, "
            "windows-1252, latin-1 or utf-16.",
            field_errors={"encoding": [f"{name!r} is not a text encoding (e.g. utf-8, windows-1252)."]},
            code=ImportCode.ENCODING,
        )
    return info.name


def read_head(sample: bytes, *, encoding: str | None, delimiter: str | None) -> Head:
    """Encoding, delimiter and header of a file from its first bytes."""
    if not sample.strip():
        raise Invalid(
            "The file is empty.", field_errors={"file": ["The file is empty."]}, code=ImportCode.EMPTY_FILE
        )
    if encoding:
        encoding = text_encoding(encoding)
    elif sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        text = decoder.decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError as error:
        raise _encoding_error(error, encoding, sample) from None
    if "\x00" in text:
        raise Invalid(
            "The file contains NUL characters: it is not a text CSV file (or its encoding is wrong).",
            field_errors={"file": ["Not a CSV text file."]},
            code=ImportCode.NOT_CSV,
        )
    lines = text.splitlines()
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
    elif len(delimiter) != 1:
        raise Invalid(
            "The delimiter is one character.",
            field_errors={"delimiter": ["Give one character, e.g. , or ;"]},
            code=ImportCode.DELIMITER_INVALID,
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = next(reader, [])
    headers = [h.strip() for h in headers]
    if not any(headers):
        raise Invalid(
            "The first row must name the columns.",
            field_errors={"file": ["The header row is empty."]},
            code=ImportCode.NO_HEADER,
        )
    if len(headers) > MAX_COLUMNS:
        raise Invalid(
            f"The file has {len(headers)} columns; at most {MAX_COLUMNS} are supported.",
            field_errors={"file": ["Too many columns."]},
            code=ImportCode.TOO_MANY_COLUMNS,
        )
    has_rows = any(any(cell.strip() for cell in row) for row in reader)
    return Head(encoding=encoding, delimiter=delimiter, headers=headers, has_rows=has_rows)


def detect_mapping(kind: str, headers: list[str], custom_keys: Iterable[str]) -> list[str]:
    """A target field per column (or "" to ignore it), matched on the header's words."""
    synonyms: dict[str, str] = {}
    for field, names in fields_for(kind).items():
        synonyms[normalise(field)] = field
        for name in names:
            synonyms.setdefault(normalise(name), field)
    for key in custom_keys:
        synonyms.setdefault(normalise(key), CUSTOM_PREFIX + key)
        synonyms[normalise(CUSTOM_PREFIX + key)] = CUSTOM_PREFIX + key
    mapping: list[str] = []
    used: set[str] = set()
    for header in headers:
        field = synonyms.get(normalise(header), "")
        if field in used:
            field = ""
        used.add(field)
        mapping.append(field)
    return mapping


def apply_overrides(
    kind: str,
    headers: list[str],
    mapping: list[str],
    overrides: Mapping[str, str | None],
    custom_keys: set[str],
) -> list[str]:
    """Apply ``{"Header": "field" or null}`` to a detected mapping, refusing unknown names."""
    known = set(fields_for(kind)) | {CUSTOM_PREFIX + key for key in custom_keys}
    errors: dict[str, list[str]] = {}
    result = list(mapping)
    for header, field in overrides.items():
        if header not in headers:
            errors[f"mapping.{header}"] = [f"No column is named {header!r}; columns: {', '.join(headers)}"]
            continue
        if field and field not in known:
            errors[f"mapping.{header}"] = [f"Unknown field {field!r}; fields: {', '.join(sorted(known))}"]
            continue
        result[headers.index(header)] = field or ""
    if errors:
        raise Invalid(
            "The column mapping is not valid.", field_errors=errors, code=ImportCode.MAPPING_INVALID
        )
    targets = [f for f in result if f]
    duplicates = sorted({f for f in targets if targets.count(f) > 1})
    if duplicates:
        raise Invalid(
            "Two columns map to the same field.",
            field_errors={"mapping": [f"{f} is mapped from more than one column" for f in duplicates]},
            code=ImportCode.MAPPING_DUPLICATE,
        )
    return result


def check_required(kind: str, mapping: list[str], policy: str, headers: list[str]) -> None:
    mapped = set(mapping)
    found = ", ".join(headers)
    if kind == ImportKind.CONTACTS:
        if not mapped & {"email", "first_name", "last_name", "full_name"}:
            raise Invalid(
                f"Missing column: contacts need an email or a name column (columns found: {found}).",
                field_errors={"mapping": ["Map a column to email, first_name, last_name or full_name."]},
                code=ImportCode.MISSING_COLUMN,
            )
        if policy != DedupPolicy.CREATE and "email" not in mapped:
            raise Invalid(
                f"Missing column: email (duplicates are matched by email; columns found: {found}). "
                "Map a column to email or choose the create policy.",
                field_errors={"mapping": ["No column maps to email."]},
                code=ImportCode.MISSING_COLUMN,
            )
    elif "name" not in mapped:
        raise Invalid(
            f"Missing column: name (companies need a name; columns found: {found}).",
            field_errors={"mapping": ["No column maps to name."]},
            code=ImportCode.MISSING_COLUMN,
        )
