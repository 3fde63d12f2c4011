"""The Celery application: ``celery -A stratus worker`` and ``celery -A stratus beat``.

Queues carry wake-ups only. Everything that must happen (a due reminder, each campaign
recipient, an import) is a row in the database with a state; periodic sweeps pick up due or
stuck rows, so a lost message delays work and a repeated one finds nothing left to do.

With a Redis broker (``CELERY_BROKER_URL``) the scheduler is celery-redbeat: every beat
process tries to take a lock in Redis, one holds it and dispatches, the others wait and take
over when the lock expires. Without one (the embedded default) the broker is kombu's
filesystem transport in ``DATA_DIR/broker`` and the worker runs beat in-process (``-B``).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from typing import Any

from celery import Celery, Task, signals
from django.db import transaction

from stratus.platform import metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stratus.settings")

logger = logging.getLogger(__name__)

app = Celery("stratus")


def _configure(app: Celery) -> None:
    from django.conf import settings

    embedded = settings.CELERY_EMBEDDED_BROKER
    transport_options: dict[str, Any]
    if embedded:
        folder = settings.CELERY_BROKER_DIR
        folder.mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            # The exchange tables too, or kombu writes them to ./control in the working directory.
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.5,
        }
    else:
        transport_options = {
            "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
            "socket_connect_timeout": settings.CELERY_BROKER_TIMEOUT,
            "socket_timeout": settings.CELERY_BROKER_TIMEOUT,
            # A timeout is not retried inside the call: publishing retries once (below).
            "retry_on_timeout": False,
        }
    sweep = timedelta(seconds=settings.SWEEP_INTERVAL)
    app.conf.update(
        broker_url=settings.CELERY_BROKER_URL,
        # kombu's Redis transport with a repair that keeps a worker alive when the broker
        # drops while a task runs (see stratus.platform.broker).
        broker_transport=None if embedded else "stratus.platform.broker:Transport",
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        # A task is acknowledged after it ran; a worker that dies mid-task leaves the message
        # to be redelivered (tasks are idempotent, and the sweeps would find the work anyway).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.CELERY_WORKER_CONCURRENCY,
        worker_hijack_root_logger=False,
        # A task that is running when the broker drops is left to finish. Its acknowledgement
        # cannot reach the broker, so the message is delivered again after the visibility
        # timeout whether or not the task is cancelled; cancelling only cuts the work short
        # (under prefork, a SIGTERM between an email leaving and its row being marked sent),
        # which is what could make a redelivered task repeat an effect. The redelivered task
        # finds the rows already done.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Publishing gives up quickly (at most two broker timeouts): the request that enqueued
        # has already committed its row, and a sweep sends the work when the broker is back.
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        timezone="UTC",
        enable_utc=True,
        beat_max_loop_interval=settings.CELERY_BEAT_MAX_INTERVAL,
        beat_scheduler=(
            "celery.beat:PersistentScheduler" if embedded else "stratus.scheduler:LockedRedBeatScheduler"
        ),
        beat_schedule_filename=str(settings.DATA_DIR / "celerybeat-schedule"),
        redbeat_redis_url=settings.CELERY_BEAT_REDIS_URL,
        redbeat_key_prefix="stratus:redbeat",
        redbeat_lock_timeout=settings.CELERY_BEAT_LOCK_TIMEOUT,
        beat_schedule={
            "reminders-sweep": {"task": "stratus.reminders.tasks.sweep", "schedule": sweep},
            "notification-email-sweep": {
                "task": "stratus.reminders.tasks.email_sweep",
                "schedule": sweep,
            },
            "campaigns-sweep": {"task": "stratus.campaigns.tasks.sweep", "schedule": sweep},
            "imports-sweep": {"task": "stratus.imports.tasks.sweep", "schedule": sweep},
            "bulk-sweep": {"task": "stratus.web.tasks.bulk_sweep", "schedule": sweep},
            "export-sweep": {"task": "stratus.web.tasks.export_sweep", "schedule": sweep},
            "documents-cleanup": {
                "task": "documents.cleanup_abandoned_uploads",
                "schedule": timedelta(seconds=settings.DOCUMENTS_CLEANUP_INTERVAL),
            },
            "api-idempotency-purge": {"task": "api.purge_idempotency_keys", "schedule": timedelta(hours=1)},
            "analytics-ship": {
                "task": "stratus.analytics.tasks.ship",
                "schedule": timedelta(seconds=settings.ANALYTICS_SHIP_INTERVAL),
            },
        },
    )


_configure(app)
app.autodiscover_tasks()


def enqueue_on_commit(task: Task, *args: Any) -> None:
    """Send ``task`` with ``args`` after the current transaction commits.

    A broker outage is logged and swallowed: the row that describes the work is already
    committed and the next sweep picks it up.
    """

    def send() -> None:
        try:
            task.apply_async(args=args)
        except Exception:
            logger.warning(
                "could not enqueue %s%r; the periodic sweep will pick the work up",
                task.name,
                args,
                exc_info=True,
            )

    transaction.on_commit(send)


def queue_depths() -> dict[str, int]:
    """Tasks waiting in each queue the workers consume (Redis broker: the length of its list)."""
    names = sorted(app.amqp.queues.keys()) or [app.conf.task_default_queue]
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        client = getattr(channel, "client", None)
        if client is None:  # the embedded filesystem broker has no lists to measure
            return {}
        return {name: int(client.llen(name)) for name in names}


# --- Metrics: every task's outcome and run time; the worker and beat serve their metrics ------

_task_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_postrun(
    task_id: str | None = None, task: Task | None = None, state: str | None = None, **_: Any
) -> None:
    started = _task_started.pop(task_id or "", None)
    name = getattr(task, "name", "unknown")
    outcome = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}.get(state or "", "other")
    metrics.TASKS.labels(task=name, state=outcome).inc()
    if started is not None:
        metrics.TASK_DURATION.labels(task=name).observe(time.monotonic() - started)


@signals.worker_init.connect
def _worker_metrics(**_: Any) -> None:
    metrics.serve("worker")


@signals.worker_process_shutdown.connect
def _worker_process_gone(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())


@signals.beat_init.connect
def _beat_metrics(**_: Any) -> None:
    from stratus.monitoring.collector import WorkCollector

    metrics.serve("beat", extra=[WorkCollector()])
