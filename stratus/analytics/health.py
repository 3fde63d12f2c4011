"""Readiness: the analytics store answers and its lag is under the threshold (never critical)."""

from __future__ import annotations

from django.conf import settings

from stratus.analytics import client as analytics
from stratus.analytics import shipper


def check_analytics() -> None:
    analytics.reader().query("SELECT 1")
    lag = shipper.lag()
    threshold = settings.ANALYTICS_LAG_DEGRADED_SECONDS
    if lag.oldest_age_seconds > threshold:
        raise RuntimeError(
            f"analytics lag {lag.oldest_age_seconds:.0f} s over {threshold} s "
            f"({lag.pending} change(s) not shipped)"
        )
