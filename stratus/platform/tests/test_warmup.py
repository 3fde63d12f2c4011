"""The web worker's start-up warm-up: done once per process, never fatal."""

from __future__ import annotations

import pytest

from testsupport.processes import free_port, run_python

CHECK = """
import stratus.wsgi
from django.urls import get_resolver
print("URL tables built:", get_resolver()._populated)
"""


@pytest.mark.subprocess
def test_the_worker_starts_warmed_up_even_with_the_database_down() -> None:
    done = run_python(
        CHECK,
        env={
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/stratus",
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "DB_POOL_TIMEOUT": "1",
            "DB_CONNECT_TIMEOUT": "1",
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "URL tables built: True"
    assert "warm-up: database or cache unreachable at start" in done.stderr
