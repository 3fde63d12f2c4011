"""The codes of the refusals campaign services raise (``ApplicationError.code``)."""

from __future__ import annotations

from enum import StrEnum


class CampaignCode(StrEnum):
    NOT_FOUND = "not_found"
    NAME_REQUIRED = "name_required"
    DUPLICATE_NAME = "conflict"
    SEGMENT_IN_USE = "in_use"
    SEGMENT_UNKNOWN = "unknown_segment"
    SEGMENT_REQUIRED = "segment_required"
    CONTENT_INVALID = "invalid_content"
    INVALID_STATE = "invalid_state"
    CONTACT_REQUIRED = "contact_required"
    EMAIL_INVALID = "invalid_email"
