"""The codes of the refusals import services raise (``ApplicationError.code``)."""

from __future__ import annotations

from enum import StrEnum


class ImportCode(StrEnum):
    KIND_UNKNOWN = "unknown_kind"
    POLICY_UNKNOWN = "unknown_dedup_policy"
    FILE_TOO_LARGE = "file_too_large"
    EMPTY_FILE = "empty_file"
    ENCODING = "encoding"
    NOT_CSV = "not_csv"
    DELIMITER_INVALID = "invalid_delimiter"
    NO_HEADER = "no_header"
    TOO_MANY_COLUMNS = "too_many_columns"
    MAPPING_INVALID = "invalid_mapping"
    MAPPING_DUPLICATE = "duplicate_mapping"
    MISSING_COLUMN = "missing_column"
    NOT_FOUND = "not_found"
