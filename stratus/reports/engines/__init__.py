"""Report engines: each computes every report of ``contracts.REPORTS`` from the same filters.

An engine is an object with one method per report (the report's name, ``-`` read as ``_``)
taking :class:`~stratus.reports.contracts.ReportFilters` and returning the contract's
dataclass. Engines register here by name; ``REPORTS_ENGINE`` chooses the one the API uses.
The conformance suite (``stratus/reports/tests/test_conformance.py``) runs against every
registered engine, so a new engine (ClickHouse) is held to the same exact numbers as soon as
it registers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings

from stratus.reports.contracts import (
    REPORTS,
    ActivityReport,
    CampaignsReport,
    ForecastReport,
    FunnelReport,
    ReportFilters,
    VelocityReport,
    WonLostReport,
)


class ReportEngine(Protocol):
    name: str

    def funnel(self, filters: ReportFilters) -> FunnelReport: ...
    def velocity(self, filters: ReportFilters) -> VelocityReport: ...
    def won_lost(self, filters: ReportFilters) -> WonLostReport: ...
    def forecast(self, filters: ReportFilters) -> ForecastReport: ...
    def activity(self, filters: ReportFilters) -> ActivityReport: ...
    def campaigns(self, filters: ReportFilters) -> CampaignsReport: ...


_ENGINES: dict[str, Callable[[], ReportEngine]] = {}


def register(name: str, factory: Callable[[], ReportEngine]) -> None:
    _ENGINES[name] = factory


def engine_names() -> list[str]:
    _load_builtin()
    return sorted(_ENGINES)


def get_engine(name: str | None = None) -> ReportEngine:
    """The engine called ``name``, or the configured one (``REPORTS_ENGINE``)."""
    _load_builtin()
    chosen = name or settings.REPORTS_ENGINE
    try:
        factory = _ENGINES[chosen]
    except KeyError:
        raise LookupError(f"unknown report engine {chosen!r}; known: {', '.join(sorted(_ENGINES))}") from None
    return factory()


def run(report: str, filters: ReportFilters, engine: ReportEngine | None = None) -> Any:
    """The report called ``report`` (a name of ``REPORTS``), from ``engine`` or the configured one."""
    contract = REPORTS[report]
    result = getattr(engine or get_engine(), contract.name.replace("-", "_"))(filters)
    assert isinstance(result, contract.result), f"{contract.name} returned {type(result).__name__}"
    return result


def _load_builtin() -> None:
    if "database" not in _ENGINES:
        from stratus.reports.engines.database import DatabaseEngine

        register("database", DatabaseEngine)
    if "clickhouse" not in _ENGINES:
        from stratus.reports.engines.clickhouse import ClickHouseEngine

        register("clickhouse", ClickHouseEngine)
