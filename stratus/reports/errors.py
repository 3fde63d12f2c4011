"""The codes of the reports' refusals (see ``stratus.crm.errors`` for how codes reach clients).

The values are part of the API: renaming a member is fine, changing a value is not.
"""

from __future__ import annotations

from enum import StrEnum


class ReportsCode(StrEnum):
    INVALID_FILTER = "invalid_report_filter"
    """A report's query parameters are invalid; ``field_errors`` names each."""
