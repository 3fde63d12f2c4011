"""The codes of the refusals reminder and notification services raise (``ApplicationError.code``)."""

from __future__ import annotations

from enum import StrEnum


class ReminderCode(StrEnum):
    TARGET_REQUIRED = "target_required"
    UNKNOWN_RECORD = "unknown_record"
    TIMING_INVALID = "invalid_timing"
    NOT_A_MEMBER = "not_a_member"
    INVALID_STATE = "invalid_state"
    NOT_FOUND = "not_found"
