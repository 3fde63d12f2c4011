"""Gauges read at scrape time from the database and Redis (served by the beat processes)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from django.db import connections
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stratus.monitoring import backlogs

logger = logging.getLogger(__name__)


class WorkCollector(Collector):
    """Backlogs: reminders due but not sent, campaign messages waiting, imports running, the
    depth of each Celery queue and the analytics store's shipping lag.

    Every beat process serves it; the values come from the shared database and Redis, so they
    agree (alert rules take ``max``). A source that fails is logged and left out of the scrape,
    so an ``absent()`` rule can tell, and the other gauges are still served.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sources: tuple[Callable[[], Iterable[GaugeMetricFamily]], ...] = (
            self._reminders,
            self._campaigns,
            self._imports,
            self._queues,
            self._analytics,
        )
        families: list[GaugeMetricFamily] = []
        # Each scrape is served on a thread of its own: one at a time, and the database
        # connection goes back to the pool when done (no request cycle closes it here).
        with self._lock:
            try:
                for source in sources:
                    try:
                        families.extend(source())
                    except Exception:
                        logger.exception("metrics: could not read %s", source.__name__.strip("_"))
            finally:
                for connection in connections.all(initialized_only=True):
                    if not connection.in_atomic_block:
                        connection.close()
        yield from families

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing to describe ahead: registering must not query the database."""
        return []

    def _reminders(self) -> Iterable[GaugeMetricFamily]:
        due = backlogs.reminders_due_unsent(now=timezone.now())
        count = GaugeMetricFamily(
            "stratus_reminders_due_unsent", "Reminders whose time has come, not sent yet."
        )
        count.add_metric([], due.count)
        age = GaugeMetricFamily(
            "stratus_reminders_due_unsent_oldest_age_seconds",
            "How long the oldest due reminder has waited to be sent (0 when none waits).",
        )
        age.add_metric([], due.oldest_age_seconds)
        return [count, age]

    def _campaigns(self) -> Iterable[GaugeMetricFamily]:
        pending = GaugeMetricFamily(
            "stratus_campaign_messages_pending",
            "Messages of sending campaigns not handed to the mail server yet.",
        )
        pending.add_metric([], backlogs.campaign_messages_pending())
        return [pending]

    def _imports(self) -> Iterable[GaugeMetricFamily]:
        running = GaugeMetricFamily("stratus_imports_running", "CSV imports queued or running.")
        running.add_metric([], backlogs.imports_running())
        return [running]

    def _analytics(self) -> Iterable[GaugeMetricFamily]:
        from stratus.analytics.shipper import lag

        backlog = lag()
        pending = GaugeMetricFamily(
            "stratus_analytics_outbox_pending",
            "Changes captured for the analytics store, not shipped yet (counted up to a million).",
        )
        pending.add_metric([], backlog.pending)
        age = GaugeMetricFamily(
            "stratus_analytics_lag_seconds",
            "How long the oldest change not shipped to the analytics store has waited (0 when none).",
        )
        age.add_metric([], backlog.oldest_age_seconds)
        return [pending, age]

    def _queues(self) -> Iterable[GaugeMetricFamily]:
        from stratus.celery import queue_depths

        depth = GaugeMetricFamily(
            "stratus_celery_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, length in sorted(queue_depths().items()):
            depth.add_metric([queue], length)
        return [depth]
