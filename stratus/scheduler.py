"""The beat scheduler for deployments with Redis: redbeat with a lock that survives outages.

celery-redbeat keeps the schedule in Redis and lets only the holder of a lock dispatch, so any
number of beat processes can run: the others wait on the lock and one takes over at most
``CELERY_BEAT_LOCK_TIMEOUT`` + ``CELERY_BEAT_MAX_INTERVAL`` seconds after the holder dies.

Stock redbeat exits when Redis goes away (and a restarted Redis without persistence has lost
the lock and the schedule). This subclass keeps the process alive through an outage, waits to
own the lock again before dispatching, and reinstalls the static schedule if it vanished.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis
from redis.exceptions import LockError

from stratus.platform import metrics

logger = logging.getLogger(__name__)

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class LockedRedBeatScheduler(RedBeatScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The metrics server starts before the lock is taken (beat_init handlers run after
        # RedBeat's own, which blocks until this process holds the lock): a waiting beat
        # reports stratus_beat_lock_held 0, and the backlog gauges, from the start.
        from stratus.monitoring.collector import WorkCollector

        metrics.serve("beat", extra=[WorkCollector()])
        super().__init__(*args, **kwargs)

    def _take_lock(self) -> None:
        """Block until this process owns the scheduler lock (other beats may hold it)."""
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        lock.acquire()
        logger.info("beat: Acquired lock")
        self.lock = lock

    def _ensure_schedule(self) -> None:
        client = get_redis(self.app)
        if not client.exists(self.app.redbeat_conf.schedule_key):
            logger.warning("beat: the schedule is missing from Redis; installing it again")
            self.setup_schedule()

    def tick(self, min: Any = min, **kwargs: Any) -> float:
        try:
            if self.lock_key and self.lock is None:
                self._take_lock()
            self._ensure_schedule()
            interval = float(super().tick(min=min, **kwargs))
            metrics.BEAT_LOCK_HELD.set(1 if self.lock is not None else 0)
            metrics.BEAT_LAST_DISPATCH.set(time.time())
            return interval
        except LockError:
            logger.warning("beat: lost the scheduler lock; waiting to take it again before dispatching")
            self.lock = None
            metrics.BEAT_LOCK_HELD.set(0)
            return 0.0
        except REDIS_ERRORS as error:
            metrics.BEAT_LOCK_HELD.set(0)
            logger.warning("beat: Redis is unavailable (%s); retrying in %ss", error, self.max_interval)
            return float(self.max_interval)
