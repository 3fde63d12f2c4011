"""Prometheus metrics: what each process counts, the labels it uses, and the multiprocess sum."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta

import pytest
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
