"""Prometheus metrics: what each process counts, the labels it uses, and the multiprocess sum."""

from __future__ import annotations

import asyncio
import re
import time
import tomllib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

import stratus
from stratus.accounts.models import Role
from stratus.crm.models import Activity, Contact
from stratus.monitoring.collector import WorkCollector
from stratus.platform.cache import FailOpenRedisCache
from stratus.reminders.models import Reminder, ReminderState
from testsupport.factories import make_member, make_organization, make_token, token_client
from testsupport.processes import PROJECT_DIR, free_port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_version_is_the_projects() -> None:
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert stratus.__version__ == project["project"]["version"]


@pytest.mark.django_db
def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    org = make_organization("metrics")
    contact = Contact.objects.create(organization=org, first_name="Ada", last_name="Lovelace")
    api = token_client(make_token(org, Role.MEMBER))
    route = "api/v1/contacts/<int:pk>"
    before = sample("stratus_http_requests_total", route=route, method="GET", status="200")
    latency_before = sample("stratus_http_request_duration_seconds_count", route=route, method="GET")
    for _ in range(3):
        assert api.get(f"/api/v1/contacts/{contact.pk}").status_code == 200
    missing = api.get("/api/v1/contacts/999999999")
    assert missing.status_code == 404
    assert sample("stratus_http_requests_total", route=route, method="GET", status="200") == before + 3
    assert (
        sample("stratus_http_request_duration_seconds_count", route=route, method="GET") == latency_before + 4
    )
    assert sample("stratus_http_requests_total", route=route, method="GET", status="404") >= 1
    api.get("/no/such/page/12345")
    assert sample("stratus_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    exposition = generate_latest(REGISTRY).decode()
    route_labels = set(re.findall(r'route="([^"]*)"', exposition))
    assert route in route_labels
    assert not [label for label in route_labels if re.search(r"(^|/)\d+(/|$)", label)]


def test_a_failing_cache_counts_each_fail_open_event() -> None:
    with socket_that_refuses() as port:
        cache = FailOpenRedisCache(
            f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}
        )
        before = sample("stratus_cache_errors_total")
        assert cache.get("k", "fallback") == "fallback"
        assert sample("stratus_cache_errors_total") == before + 1


class socket_that_refuses:
    """A port with nothing listening on it (bound, then closed)."""

    def __enter__(self) -> int:
        return free_port()

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.django_db
def test_celery_tasks_are_counted_by_name_and_state_with_their_duration() -> None:
    from stratus.api.tasks import purge_idempotency_keys

    name = purge_idempotency_keys.name
    succeeded = sample("stratus_celery_tasks_total", task=name, state="succeeded")
    timed = sample("stratus_celery_task_duration_seconds_count", task=name)
    purge_idempotency_keys.apply()
    assert sample("stratus_celery_tasks_total", task=name, state="succeeded") == succeeded + 1
    assert sample("stratus_celery_task_duration_seconds_count", task=name) == timed + 1


@pytest.mark.django_db
def test_the_backlog_gauges_read_the_database() -> None:
    org = make_organization("backlogs")
    owner = make_member(org, Role.OWNER).user
    now = timezone.now()
    contact = Contact.objects.create(organization=org, first_name="Due")
    task = Activity.objects.create(organization=org, kind="task", subject="Call back", contact=contact)
    for minutes in (5, 30):
        Reminder.objects.create(
            organization=org,
            user=owner,
            activity=task,
            remind_at=now - timedelta(minutes=minutes),
            state=ReminderState.PENDING,
        )
    Reminder.objects.create(
        organization=org,
        user=owner,
        activity=task,
        remind_at=now + timedelta(hours=1),
        state=ReminderState.PENDING,
    )
    registry = CollectorRegistry()
    registry.register(WorkCollector())
    assert registry.get_sample_value("stratus_reminders_due_unsent") == 2
    age = registry.get_sample_value("stratus_reminders_due_unsent_oldest_age_seconds")
    assert age is not None
    assert 30 * 60 <= age < 31 * 60
    assert registry.get_sample_value("stratus_imports_running") == 0
    assert registry.get_sample_value("stratus_campaign_messages_pending") == 0


# --- The live-event lag (ws processes) -----------------------------------------------------------

BUSY_SECONDS = 0.4  # how long the test keeps a ws process's event loop from reading


def lag_sample() -> tuple[float, float]:
    """Events observed and their summed lag, so far."""
    return sample("stratus_live_event_lag_seconds_count"), sample("stratus_live_event_lag_seconds_sum")


class _Socket:
    """Stands for a ws process's socket: records the sequence ids handed to it."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.arrived = asyncio.Event()

    def offer(self, message: dict[str, Any]) -> None:
        self.seqs.append(int(message["seq"]))
        self.arrived.set()


@pytest.fixture
def realtime_prefix() -> Iterator[str]:
    import redis

    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    if settings.REALTIME_REDIS_URL:
        client = redis.Redis.from_url(settings.REALTIME_REDIS_URL)
        keys = list(client.scan_iter(f"{name}:*"))
        if keys:
            client.delete(*keys)


def _use_log(django_settings: Any, kind: str, prefix: str) -> None:
    """Redis (production: the log's script publishes to channels_redis's pub/sub layer) or the
    database (the embedded default: the ws side polls the log)."""
    if kind == "redis":
        url = settings.REALTIME_REDIS_URL
        assert url, "set REDIS_URL: the event log is tested on real Redis"
        django_settings.REALTIME_REDIS_URL = url
        django_settings.REALTIME_PREFIX = prefix
        django_settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [url], "prefix": f"{prefix}:layer"},
            }
        }
    else:
        django_settings.REALTIME_REDIS_URL = ""
        django_settings.REALTIME_POLL_SECONDS = 0.05
        django_settings.CHANNEL_LAYERS = {}  # another process's event: only the polled log has it


@pytest.mark.parametrize(
    "kind", ["redis", pytest.param("database", marks=pytest.mark.django_db(transaction=True))]
)
def test_the_live_event_lag_measures_how_late_a_ws_process_hands_events_to_its_sockets(
    settings: Any, kind: str, realtime_prefix: str
) -> None:
    """An event waits while the ws process's event loop is busy: the lag shows that wait, once
    per event, however many copies of it arrive."""
    from stratus.realtime.events import deliver_now
    from stratus.realtime.fanout import Fanout

    _use_log(settings, kind, realtime_prefix)
    organization_id = 7_000_001

    def publish() -> int:
        """Append an event from another thread (as another process would) while this thread, the
        event loop's, waits: the loop reads nothing until the call returns."""

        def append() -> int:
            try:
                return deliver_now(
                    organization_id=organization_id, event_json='"contact.created"', data_json="{}"
                )
            finally:
                connections.close_all()

        with ThreadPoolExecutor(1) as thread:
            return thread.submit(append).result()

    async def scenario() -> list[tuple[float, float]]:
        fanout = Fanout()
        socket = _Socket()
        await fanout.join(organization_id, socket)
        await asyncio.sleep(0.2)  # the subscription (or the poller) is in place
        counted = lag_sample()
        try:
            first = publish()
            async with asyncio.timeout(15):
                await socket.arrived.wait()
            on_time = lag_sample()

            socket.arrived.clear()
            second = publish()
            time.sleep(BUSY_SECONDS)  # the event loop stays busy: the event waits
            async with asyncio.timeout(15):
                await socket.arrived.wait()
            late = lag_sample()

            # A second copy of an event already handed out is no delivery: not counted again.
            copy = {"type": "realtime.event", "organization": organization_id, "seq": second, "text": "{}"}
            fanout._offer({**copy, "logged_at": time.time() - 60})
            again = lag_sample()
            assert socket.seqs == [first, second, second]
        finally:
            for task in (fanout._pump, fanout._poller):
                if task is not None:
                    task.cancel()
            layer = get_channel_layer()
            if layer is not None:
                await layer.flush()
        return [counted, on_time, late, again]

    counted, on_time, late, again = asyncio.run(scenario())
    (on_time_count, on_time_lag), (late_count, late_lag), (again_count, again_lag) = (
        (after[0] - before[0], after[1] - before[1])
        for before, after in ((counted, on_time), (on_time, late), (late, again))
    )
    assert on_time_count == 1
    assert 0 <= on_time_lag < 15
    assert late_count == 1
    assert late_lag >= BUSY_SECONDS - 0.01  # Redis's clock and ours may differ by milliseconds
    assert late_lag < 15
    assert (again_count, again_lag) == (0, 0)
