"""Pay at process start what the first request would otherwise pay.

A fresh web worker answered its first API write in 100-250 ms instead of about 20 ms: it
imported every view (the URLconf), built the URL reverse tables, compiled the validator
regular expressions Django compiles lazily, and opened its database and Redis connections.
Gunicorn replaces each worker every ``GUNICORN_MAX_REQUESTS`` requests, so without this
some user pays that regularly (and it was the p99 of the live-update benchmark's writes).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("stratus.platform")


def warm_up() -> None:
    from django.core.cache import cache
    from django.core.validators import URLValidator, validate_email
    from django.db import connection
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 (imports every view module)
    resolver.reverse_dict  # noqa: B018 (builds the reverse tables)
    validate_email("warm-up@example.com")
    URLValidator()("https://example.com/warm-up")
    try:
        connection.ensure_connection()
        cache.get("warm-up")
    except Exception:
        # Not fatal: the first request opens them (and reports what is wrong).
        logger.warning("warm-up: database or cache unreachable at start", exc_info=True)
    finally:
        connection.close()  # back to the pool (or closed): a worker holds nothing while idle
