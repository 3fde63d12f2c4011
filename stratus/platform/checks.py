"""Statelessness checks for production mode (``manage.py check --deploy``).

Each names the setting that keeps state on one replica and what to use instead.
They stay silent outside production mode, where the embedded default is meant to
use local stand-ins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

STATEFUL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.dummy.DummyCache",
)
STATEFUL_SESSIONS = (
    "django.contrib.sessions.backends.file",
    "django.contrib.sessions.backends.cache",
)
LOCAL_STORAGES = ("django.core.files.storage.FileSystemStorage",)
WEAK_KEY_PREFIXES = ("django-insecure", "stratus-development-key", "changeme", "secret")


def _production() -> bool:
    return bool(getattr(settings, "PRODUCTION", False))


def check_database(**_: Any) -> list[CheckMessage]:
    return [
        Error(
            f"Database '{alias}' is SQLite, a file on one replica.",
            hint="Set DATABASE_URL to a PostgreSQL URL (postgres://user:pass@host:5432/db).",
            id="stratus.E001",
        )
        for alias, config in settings.DATABASES.items()
        if "sqlite" in config.get("ENGINE", "")
    ]


def _storage_backend(name: str) -> str:
    return str(settings.STORAGES.get(name, {}).get("BACKEND", ""))


def check_media_storage(**_: Any) -> list[CheckMessage]:
    backend = _storage_backend("default")
    is_local = backend in LOCAL_STORAGES
    if not is_local and backend:
        storage_class = import_string(backend)
        is_local = any(
            f"{base.__module__}.{base.__qualname__}" in LOCAL_STORAGES for base in storage_class.__mro__
        )
    if not is_local:
        return []
    return [
        Error(
            "Documents are stored on the local disk of one replica.",
            hint="Set AWS_STORAGE_BUCKET_NAME (and AWS_S3_ENDPOINT_URL for MinIO, R2 or Spaces).",
            id="stratus.E002",
        )
    ]


def check_cache(**_: Any) -> list[CheckMessage]:
    return [
        Error(
            f"Cache '{alias}' uses {config.get('BACKEND')}, which is private to one process or disk.",
            hint="Set REDIS_URL so the cache is shared by every replica.",
            id="stratus.E003",
        )
        for alias, config in settings.CACHES.items()
        if config.get("BACKEND") in STATEFUL_CACHES
    ]


def check_sessions(**_: Any) -> list[CheckMessage]:
    if settings.SESSION_ENGINE not in STATEFUL_SESSIONS:
        return []
    return [
        Error(
            f"SESSION_ENGINE {settings.SESSION_ENGINE} loses sessions with a replica or a cache flush.",
            hint="Use django.contrib.sessions.backends.cached_db (the default when REDIS_URL is set).",
            id="stratus.E004",
        )
    ]


def _file_handlers(handlers: dict[str, dict[str, Any]]) -> Iterable[str]:
    for name, handler in handlers.items():
        target = handler.get("class") or handler.get("()")
        if isinstance(target, str):
            try:
                handler_class = import_string(target)
            except ImportError:
                continue
        else:
            handler_class = target
        if isinstance(handler_class, type) and issubclass(handler_class, logging.FileHandler):
            yield name


def check_logging(**_: Any) -> list[CheckMessage]:
    handlers = (settings.LOGGING or {}).get("handlers", {})
    return [
        Error(
            f"Log handler '{name}' writes to a file on the replica's disk.",
            hint="Log to the console (logging.StreamHandler); the platform collects stdout.",
            id="stratus.E005",
        )
        for name in _file_handlers(handlers)
    ]


def check_debug(**_: Any) -> list[CheckMessage]:
    if not settings.DEBUG:
        return []
    return [
        Error(
            "DEBUG is on in production: it leaks settings and keeps every query in memory.",
            hint="Unset DEBUG or set DEBUG=false.",
            id="stratus.E006",
        )
    ]


def secret_key_is_weak(key: str) -> bool:
    lowered = key.lower()
    return len(key) < 50 or len(set(key)) < 10 or lowered.startswith(WEAK_KEY_PREFIXES)


def check_secret_key(**_: Any) -> list[CheckMessage]:
    if not secret_key_is_weak(settings.SECRET_KEY):
        return []
    return [
        Error(
            "SECRET_KEY is weak (under 50 characters, few distinct characters, or a known placeholder).",
            hint='Generate one: python -c "import secrets; print(secrets.token_urlsafe(64))"',
            id="stratus.E007",
        )
    ]


def check_allowed_hosts(**_: Any) -> list[CheckMessage]:
    hosts = list(settings.ALLOWED_HOSTS)
    if hosts and "*" not in hosts:
        return []
    return [
        Error(
            "ALLOWED_HOSTS is empty or '*'.",
            hint="Set ALLOWED_HOSTS to the host names Stratus is served under, comma separated.",
            id="stratus.E008",
        )
    ]


STATELESSNESS_CHECKS = (
    check_database,
    check_media_storage,
    check_cache,
    check_sessions,
    check_logging,
    check_debug,
    check_secret_key,
    check_allowed_hosts,
)


@register("stratus", deploy=True)
def statelessness(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not _production():
        return []
    messages: list[CheckMessage] = []
    for check in STATELESSNESS_CHECKS:
        messages.extend(check())
    return messages


@register("stratus", deploy=True)
def trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The client address of rate limits and the login lockout (stratus.platform.client_address)."""
    from stratus.platform.client_address import parse_trusted_proxies

    if not _production():
        return []
    networks = parse_trusted_proxies(settings.TRUSTED_PROXIES)
    if any(network.prefixlen == 0 for network in networks):
        return [
            Error(
                "TRUSTED_PROXIES trusts every address: any client can choose its own address.",
                hint="List only the networks the proxies in front of the app connect from.",
                id="stratus.E009",
            )
        ]
    if not networks:
        return [
            Warning(
                "TRUSTED_PROXIES is empty: behind a proxy every client has the proxy's address, "
                "so rate limits and the login lockout count everybody together.",
                hint="Set TRUSTED_PROXIES to the proxies' addresses or CIDRs (compose.production.yaml "
                "and the Kubernetes ConfigMap do); leave it empty only if clients reach the app directly.",
                id="stratus.W009",
            )
        ]
    return []
