"""A Redis cache that fails open.

A cache is an optimisation: when Redis is unreachable, reads become misses and
writes are dropped, so requests keep working from the database. After a failure
the backend skips Redis for a short pause instead of paying a connection timeout
on every call; the pause is per process, which is fine for a cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stratus.platform import metrics

logger = logging.getLogger("stratus.cache")
T = TypeVar("T")

RETRY_AFTER_SECONDS = 2.0
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class FailOpenRedisCacheClient(RedisCacheClient):
    _down_until = 0.0

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # One client object per connection pool, instead of a new one for every call (the
        # clients are thread-safe; the pool holds the connections either way).
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        clients: dict[int, Any] = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client

    def _guard(self, operation: Callable[[], T], fallback: T) -> T:
        now = time.monotonic()
        if now < self._down_until:
            return fallback
        try:
            return operation()
        except REDIS_ERRORS as error:
            metrics.CACHE_ERRORS.inc()
            if self._down_until == 0.0 or now >= self._down_until:
                logger.warning("cache unavailable, serving without it: %s", error)
            self._down_until = now + RETRY_AFTER_SECONDS
            return fallback

    def get(self, key: Any, default: Any) -> Any:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).get(key, default), default)

    def get_many(self, keys: Any) -> dict[Any, Any]:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).get_many(keys), {})

    def has_key(self, key: Any) -> bool:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).has_key(key), False)

    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).add(key, value, timeout), False)

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        self._guard(lambda: super(FailOpenRedisCacheClient, self).set(key, value, timeout), None)

    def set_many(self, data: Mapping[Any, Any], timeout: Any) -> None:
        self._guard(lambda: super(FailOpenRedisCacheClient, self).set_many(data, timeout), None)

    def touch(self, key: Any, timeout: Any) -> bool:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).touch(key, timeout), False)

    def delete(self, key: Any) -> bool:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).delete(key), False)

    def delete_many(self, keys: Any) -> None:
        self._guard(lambda: super(FailOpenRedisCacheClient, self).delete_many(keys), None)

    def incr(self, key: Any, delta: int) -> Any:
        # incr on a missing key raises ValueError by contract; an outage behaves like a miss.
        def operation() -> Any:
            return super(FailOpenRedisCacheClient, self).incr(key, delta)

        result = self._guard(operation, None)
        if result is None:
            raise ValueError(f"Key '{key}' not found (cache unavailable)")
        return result

    def clear(self) -> bool:
        return self._guard(lambda: super(FailOpenRedisCacheClient, self).clear(), False)


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient

    def ping(self) -> None:
        """Raise if Redis cannot be reached right now (used by readiness, bypasses the guard)."""
        self._cache.get_client(write=True).ping()  # type: ignore[attr-defined]
