"""The codes of the reports' refusals (see ``stratus.crm.errors`` for how codes reach clients).

The values are part of the API: renaming a member is fine, changing a value is not.
"""

from __future__ import annotations

from enum import StrEnum


class ReportsCode(StrEnum):
    INVALID_FILTER = "invalid_report_filter"
    """A report's query parameters are invalid; ``field_errors`` names each."""

    INVALID_RATE = "invalid_exchange_rate"
    """An exchange rate's field is invalid; ``field_errors`` names each."""

    DUPLICATE_RATE = "duplicate_exchange_rate"
    """The organization has a rate for this pair from this day already (``valid_from``)."""

    INVALID_CONVERSION = "invalid_report_conversion"
    """A report's conversion parameters are invalid (``currency_to``, ``rates_on``)."""

    REPORT_TOO_HEAVY = "report_too_heavy"
    """A report's query hit a per-query limit of the analytics store (time, memory, rows): 422."""

    REPORTS_UNAVAILABLE = "reports_unavailable"
    """The analytics store cannot answer now (down, or not built yet): 503 with ``Retry-After``."""
