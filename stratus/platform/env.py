"""Reading configuration from the environment.

Settings are built from the process environment only. In production mode every
required variable is checked before Django starts; a missing or malformed one
stops the process with one line per problem naming the variable and what it
expects, so an operator sees the cause in the container log without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import environ


class ConfigurationError(SystemExit):
    """Raised from settings when the environment cannot produce a working configuration."""


@dataclass
class Requirements:
    """Collects configuration problems so that all of them are reported at once."""

    problems: list[str] = field(default_factory=list)

    def add(self, variable: str, expectation: str) -> None:
        self.problems.append(f"{variable}: {expectation}")

    def raise_if_any(self) -> None:
        if self.problems:
            lines = [f"stratus: configuration error: {p}" for p in self.problems]
            raise ConfigurationError("\n".join(lines))


def require_url(
    env: environ.Env,
    requirements: Requirements,
    variable: str,
    schemes: tuple[str, ...],
    example: str,
) -> str | None:
    """Return the URL in ``variable`` if it is set and uses one of ``schemes``."""
    raw = env.str(variable, default="").strip()
    expectation = f"expected a {'/'.join(schemes)} URL such as {example}"
    if not raw:
        requirements.add(variable, f"is required in production; {expectation}")
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not (parts.hostname or parts.path):
        requirements.add(variable, f"is malformed ({parts.scheme or 'no scheme'}://...); {expectation}")
        return None
    return raw


def require_str(env: environ.Env, requirements: Requirements, variable: str, expectation: str) -> str:
    value = env.str(variable, default="").strip()
    if not value:
        requirements.add(variable, f"is required in production; {expectation}")
    return value


def read_bool(env: environ.Env, requirements: Requirements, variable: str, default: bool) -> bool:
    raw = env.str(variable, default="").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    requirements.add(variable, f"is malformed ({raw!r}); expected true or false")
    return default


def read_int(
    env: environ.Env, requirements: Requirements, variable: str, default: int, minimum: int = 0
) -> int:
    raw = env.str(variable, default="").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        requirements.add(variable, f"is malformed ({raw!r}); expected a whole number")
        return default
    if value < minimum:
        requirements.add(variable, f"is {value}; expected a whole number >= {minimum}")
        return default
    return value


def read_float(env: environ.Env, requirements: Requirements, variable: str, default: float) -> float:
    raw = env.str(variable, default="").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        requirements.add(variable, f"is malformed ({raw!r}); expected a number")
        return default


def read_choice(
    env: environ.Env,
    requirements: Requirements,
    variable: str,
    choices: tuple[str, ...],
    default: str,
) -> str:
    value = env.str(variable, default="").strip().lower() or default
    if value not in choices:
        requirements.add(variable, f"is {value!r}; expected one of {', '.join(choices)}")
        return default
    return value


def read_list(env: environ.Env, variable: str, default: list[str] | None = None) -> list[str]:
    raw = env.str(variable, default="")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return items or list(default or [])


def database_config(url: str, env: environ.Env, requirements: Requirements) -> dict[str, Any]:
    """A DATABASES entry for ``url``; PostgreSQL gets psycopg 3's connection pool."""
    config: dict[str, Any] = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a pool check that skips the round trip on a quiet connection.
        config["ENGINE"] = "stratus.platform.postgresql"
        config["CONN_MAX_AGE"] = 0  # the pool owns connection lifetime
        # Checked on checkout, so connections broken by a database restart are replaced.
        config["CONN_HEALTH_CHECKS"] = True
        options = config.setdefault("OPTIONS", {})
        options["connect_timeout"] = read_int(env, requirements, "DB_CONNECT_TIMEOUT", 5, 1)
        if read_bool(env, requirements, "DB_POOL", True):
            options["pool"] = {
                "min_size": read_int(env, requirements, "DB_POOL_MIN_SIZE", 1, 0),
                "max_size": read_int(env, requirements, "DB_POOL_MAX_SIZE", 8, 1),
                "timeout": read_float(env, requirements, "DB_POOL_TIMEOUT", 10.0),
                "max_idle": 300.0,
                "reconnect_timeout": 3600.0,
            }
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update(
            {
                # WAL and a busy timeout let the worker and the web process share the file.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            }
        )
    return config
