"""Two beat processes side by side: one dispatches, the other takes over when it is killed.

Compressed schedule: every periodic task runs each second (SWEEP_INTERVAL=1), the lock lives
5 s (CELERY_BEAT_LOCK_TIMEOUT) and is renewed every second (CELERY_BEAT_MAX_INTERVAL): a dozen
seconds of two beats stand for several minutes of a production schedule (30 s interval, 30 s lock).
No worker runs, so every dispatch stays in the broker queue where it is counted. The test waits
for a number of dispatches and checks how long they took (one beat: about one a second; two
dispatching beats would make them twice as fast), never for a fixed time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from testsupport.background import beat, processes, queued_tasks, wait_for
from testsupport.servers import redis_server

pytestmark = pytest.mark.cluster

SWEEP = "stratus.reminders.tasks.sweep"
SENT = "Scheduler: Sending due task reminders-sweep"
WATCHED = 12  # dispatches counted while both beats run
AFTER_TAKEOVER = 6  # and after the active one is killed


def test_two_beats_dispatch_each_tick_once_and_the_standby_takes_over(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as broker, processes() as started:
        env = {"CELERY_BROKER_URL": broker.url, "DATA_DIR": str(tmp_path / "data")}
        first = beat(env, tmp_path / "beat-1.log")
        started.append(first)
        wait_for(lambda: SENT in first.output(), 60, "the first beat to dispatch")
        second = beat(env, tmp_path / "beat-2.log")
        started.append(second)
        wait_for(lambda: "beat: Starting" in second.output(), 60, "the second beat to start")

        before = queued_tasks(broker.url).count(SWEEP)
        elapsed = wait_for(
            lambda: queued_tasks(broker.url).count(SWEEP) - before >= WATCHED, 60, f"{WATCHED} dispatches"
        )
        dispatched = queued_tasks(broker.url).count(SWEEP) - before
        # One dispatch per second (give or take the edges); two dispatching beats would double it.
        assert dispatched <= elapsed + 2, (dispatched, elapsed)
        assert SENT not in second.output(), "the standby beat dispatched while the first held the lock"

        first.kill()
        killed_at = time.monotonic()
        waited = wait_for(lambda: SENT in second.output(), 90, "the standby beat to take over")
        print(f"standby took over {waited:.1f}s after the active beat was killed")

        count_at_takeover = queued_tasks(broker.url).count(SWEEP)
        took = wait_for(
            lambda: queued_tasks(broker.url).count(SWEEP) - count_at_takeover >= AFTER_TAKEOVER,
            30,
            f"{AFTER_TAKEOVER} dispatches by the new holder",
        )
        after = queued_tasks(broker.url).count(SWEEP) - count_at_takeover
        assert after <= took + 2, (after, took)  # about one a second, from the new holder only
        assert time.monotonic() - killed_at < 90 + 30
