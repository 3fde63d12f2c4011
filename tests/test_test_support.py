"""The suite's own settings: fast password hashing here, and per-worker cache clearing under xdist."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from testsupport.workers import FAST_HASHER, WorkerScopedRedisCache


def test_passwords_made_in_tests_are_fast_and_server_hashes_still_check() -> None:
    assert settings.PASSWORD_HASHERS[0] == FAST_HASHER
    assert make_password("a-long-password").startswith("md5$")
    real = make_password("a-long-password", hasher="pbkdf2_sha256")  # as a server process makes it
    assert check_password("a-long-password", real)
    assert not check_password("another", real)


def test_a_worker_clears_only_its_own_cache_keys() -> None:
    if not settings.REDIS_URL:
        pytest.fail("set REDIS_URL: the cache of the suite is Redis")
    run = uuid.uuid4().hex[:8]
    options = {"OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}
    mine = WorkerScopedRedisCache(settings.REDIS_URL, {**options, "KEY_PREFIX": f"t{run}-gw0"})
    theirs = WorkerScopedRedisCache(settings.REDIS_URL, {**options, "KEY_PREFIX": f"t{run}-gw1"})
    mine.set("k", 1)
    theirs.set("k", 2)
    mine.clear()
    try:
        assert (mine.get("k"), theirs.get("k")) == (None, 2)
    finally:
        theirs.clear()
    assert theirs.get("k") is None
