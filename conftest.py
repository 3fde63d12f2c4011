from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from testsupport import marks, workers

# A fast password hasher in this process; under pytest-xdist, this worker's own Redis key prefixes
# (pytest-django already gives each worker its own database).
workers.configure()

# Fixtures for every suite: organization, other_organization, api_client(role=..., org=...), s3_*;
# qdrant_in_tmp (search by meaning on a shard of the test's own).
pytest_plugins = ["testsupport.fixtures", "testsupport.search"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts and ends with an empty cache (the suite's own Redis database, or keys)."""
    cache.clear()
    yield
    cache.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start servers through fixtures are ``subprocess`` tests (left out of test-fast)."""
    marks.mark_server_fixture_users(items)
