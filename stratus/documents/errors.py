"""The codes of the refusals document services raise (``ApplicationError.code``)."""

from __future__ import annotations

from enum import StrEnum


class DocumentCode(StrEnum):
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    NAME_INVALID = "invalid_name"
    EMPTY_FILE = "empty_file"
    CHECKSUM_INVALID = "invalid_checksum"
    UPLOAD_MISMATCH = "upload_mismatch"
    UPLOAD_MISSING = "upload_missing"
    TARGET_REQUIRED = "target_required"
    NOT_FOUND = "not_found"
