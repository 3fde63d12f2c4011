"""Settings the suite changes in its own process: a fast password hasher, one Redis prefix per worker.

Called by the root conftest once Django is set up (pytest-django loads the settings first).
"""

from __future__ import annotations

import os
from typing import Any

from asgiref.local import Local
from django.conf import settings
from django.contrib.auth import hashers
from django.core.cache import caches

from stratus.platform.cache import FailOpenRedisCache

# Passwords made in this process are hashed with MD5 (tests pay microseconds, not PBKDF2's
# hundreds of milliseconds); the real hashers stay in the list, so a hash made by a server
# process (manage.py, gunicorn, the cluster) still checks here. A server process has only the
# real hashers: a test that signs in on one must set the password in that process, or sign in
# with a session (force_login), which does not hash.
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


class WorkerScopedRedisCache(FailOpenRedisCache):
    """``clear()`` deletes this worker's keys only, not the whole Redis database (FLUSHDB).

    The xdist workers share one Redis database; each has its own key prefix, so one worker's
    autouse ``cache.clear()`` no longer empties another's cache in the middle of a test.
    """

    def clear(self) -> None:
        client = self._cache.get_client(write=True)  # type: ignore[attr-defined]
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


def worker_id() -> str | None:
    """``gw0``, ``gw1``... in an xdist worker; None in a plain run."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def use_fast_password_hasher() -> None:
    settings.PASSWORD_HASHERS = [
        FAST_HASHER,
        *(name for name in settings.PASSWORD_HASHERS if name != FAST_HASHER),
    ]
    hashers.get_hashers.cache_clear()  # type: ignore[attr-defined]
    hashers.get_hashers_by_algorithm.cache_clear()  # type: ignore[attr-defined]


def isolate_worker(worker: str) -> None:
    """Give an xdist worker its own Redis key prefixes (its database pytest-django already suffixes)."""
    caches_config: dict[str, dict[str, Any]] = {
        alias: dict(config) for alias, config in settings.CACHES.items()
    }
    default = caches_config["default"]
    if default["BACKEND"] == "stratus.platform.cache.FailOpenRedisCache":
        default["BACKEND"] = f"{WorkerScopedRedisCache.__module__}.{WorkerScopedRedisCache.__qualname__}"
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX') or 'stratus'}-{worker}"
    settings.CACHES = caches_config
    # As Django's own setting_changed receiver does when a test overrides CACHES.
    caches._settings = caches.settings = caches.configure_settings(None)  # type: ignore[attr-defined]
    caches._connections = Local(False)  # type: ignore[attr-defined]

    settings.REALTIME_PREFIX = f"{settings.REALTIME_PREFIX}-{worker}"
    layers = {alias: dict(config) for alias, config in settings.CHANNEL_LAYERS.items()}
    for config in layers.values():
        if "prefix" in config.get("CONFIG", {}):
            config["CONFIG"] = {**config["CONFIG"], "prefix": f"{settings.REALTIME_PREFIX}:layer"}
    settings.CHANNEL_LAYERS = layers


def configure() -> None:
    use_fast_password_hasher()
    worker = worker_id()
    if worker:
        isolate_worker(worker)
