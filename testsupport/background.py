"""Helpers for the background-work suites: Celery workers and beats as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import redis

from testsupport.processes import PROJECT_DIR, child_env

# Durations for the suites: "minutes" of schedule compressed into seconds.
FAST = {
    "SWEEP_INTERVAL": "1",
    "CELERY_BEAT_MAX_INTERVAL": "1",
    "CELERY_BEAT_LOCK_TIMEOUT": "5",
    "CELERY_VISIBILITY_TIMEOUT": "10",
    "CAMPAIGN_LEASE_SECONDS": "10",
    "IMPORT_STALE_AFTER": "5",
    "LOG_LEVEL": "info",
    "LOG_FORMAT": "text",
}


class Process:
    """A Celery process in its own session, logging to a file; ``kill`` is a SIGKILL of the group."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "stratus", *args],
            cwd=PROJECT_DIR,
            env=child_env({**FAST, **env}),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


@contextmanager
def processes() -> Iterator[list[Process]]:
    """Collects the processes a test starts and stops every one of them at the end."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.stop()


def worker(env: Mapping[str, str], log: Path, *extra: str) -> Process:
    return Process(["worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO", *extra], env, log)


def beat(env: Mapping[str, str], log: Path) -> Process:
    return Process(["beat", "--loglevel=INFO"], env, log)


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> float:
    """Poll ``condition`` until it is true; returns the seconds it took, fails naming ``what``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sweeps_done(process: Process, task: str = "stratus.reminders.tasks.sweep") -> int:
    """How many runs of ``task`` a worker has finished (its INFO log's "succeeded" lines)."""
    return sum(1 for line in process.output().splitlines() if f"{task}[" in line and "succeeded" in line)


def queued_tasks(url: str, queue: str = "celery") -> list[str]:
    """Names of the task messages waiting in a Redis broker queue."""
    client = redis.Redis.from_url(url)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange(queue, 0, -1)]
