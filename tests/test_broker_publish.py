"""A broker that accepts connections but never answers (a hung Redis) fails a publish quickly.

Requests enqueue after their transaction commits; the work is a row the sweeps find later, so
a publish must give up after CELERY_BROKER_TIMEOUT (retried once) instead of holding the request.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from celery import Celery
from django.db import connection
from django.test import override_settings
from kombu.exceptions import OperationalError

from stratus.celery import _configure, enqueue_on_commit


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP port whose connections complete (kernel backlog) but are never read or answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def publish_in_thread(app: Celery, *, through_enqueue: bool) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    @app.task(name="conformance.noop")
    def noop() -> None:
        return None

    def run() -> None:
        try:
            if through_enqueue:
                enqueue_on_commit(noop)
            else:
                noop.apply_async()
            outcome.append("returned")
        except Exception as error:
            outcome.append(error)
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_publishing_to_a_hung_broker_fails_after_the_broker_timeout(
    silent_broker: str, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(
        CELERY_BROKER_URL=silent_broker, CELERY_EMBEDDED_BROKER=False, CELERY_BROKER_TIMEOUT=0.3
    ):
        app = Celery("publish-timeout")
        _configure(app)
    assert app.conf.broker_transport_options["socket_timeout"] == 0.3
    assert app.conf.broker_transport_options["retry_on_timeout"] is False

    # Before the timeout was configurable the call blocked for 40 s (10 s x 4 tries) here.
    thread, outcome = publish_in_thread(app, through_enqueue=False)
    thread.join(timeout=15)
    assert not thread.is_alive(), "the publish hung on a broker that does not answer"
    assert len(outcome) == 1
    assert isinstance(outcome[0], OperationalError)

    # A request's enqueue (outside a transaction: sent at once) logs and returns.
    with caplog.at_level(logging.WARNING, logger="stratus.celery"):
        thread, outcome = publish_in_thread(app, through_enqueue=True)
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert outcome == ["returned"]
    assert "the periodic sweep will pick the work up" in caplog.text
