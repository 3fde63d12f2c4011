from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.test import override_settings

from stratus.platform import checks

# The checks read DATABASES; overriding it here is deliberate.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

STRONG_KEY = secrets.token_urlsafe(64)
GOOD: dict[str, Any] = {
    "PRODUCTION": True,
    "DEBUG": False,
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": ["crm.example.com"],
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "stratus"}},
    "CACHES": {"default": {"BACKEND": "stratus.platform.cache.FailOpenRedisCache", "LOCATION": "redis://r"}},
    "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
    "STORAGES": {
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    },
    "LOGGING": {"version": 1, "handlers": {"console": {"class": "logging.StreamHandler"}}},
}

BAD: list[tuple[str, str, Any]] = [
    (
        "stratus.E001",
        "DATABASES",
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}},
    ),
    (
        "stratus.E002",
        "STORAGES",
        {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ),
    (
        "stratus.E003",
        "CACHES",
        {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    ),
    (
        "stratus.E003",
        "CACHES",
        {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}},
    ),
    (
        "stratus.E003",
        "CACHES",
        {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
    ),
    ("stratus.E004", "SESSION_ENGINE", "django.contrib.sessions.backends.file"),
    ("stratus.E004", "SESSION_ENGINE", "django.contrib.sessions.backends.cache"),
    (
        "stratus.E005",
        "LOGGING",
        {
            "version": 1,
            "handlers": {"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "x"}},
        },
    ),
    ("stratus.E006", "DEBUG", True),
    ("stratus.E007", "SECRET_KEY", "short"),
    ("stratus.E007", "SECRET_KEY", "stratus-development-key-not-for-production" + "x" * 20),
    ("stratus.E008", "ALLOWED_HOSTS", []),
    ("stratus.E008", "ALLOWED_HOSTS", ["*"]),
]


def ids(**overrides: Any) -> list[str]:
    with override_settings(**{**GOOD, **overrides}):
        return [message.id for message in checks.statelessness()]  # type: ignore[misc]


def test_a_correct_production_configuration_passes_every_check() -> None:
    assert ids() == []


@pytest.mark.parametrize(("check_id", "setting", "value"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_each_check_fires_on_its_bad_setting_only(check_id: str, setting: str, value: Any) -> None:
    assert ids(**{setting: value}) == [check_id]


def test_checks_are_quiet_outside_production_mode() -> None:
    assert ids(PRODUCTION=False, DEBUG=True, SECRET_KEY="short", ALLOWED_HOSTS=[]) == []


def test_each_message_names_what_to_set_instead() -> None:
    with override_settings(**{**GOOD, **{s: v for _, s, v in BAD}}):
        messages = checks.statelessness()
    assert {m.id for m in messages} == {b[0] for b in BAD}
    assert all(m.hint for m in messages)


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "STRATUS_ENV": "production",
        "SECRET_KEY": STRONG_KEY,
        "DATABASE_URL": "postgres://stratus:secret@127.0.0.1:5432/stratus",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "ALLOWED_HOSTS": "crm.example.com",
        "AWS_STORAGE_BUCKET_NAME": "stratus-documents",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "TRUSTED_PROXIES": "10.0.0.0/8",
    }
    env.update(overrides)
    return env


@pytest.mark.subprocess
def test_check_deploy_passes_at_warning_level_in_a_correct_production_environment() -> None:
    from testsupport.processes import manage

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.subprocess
def test_check_deploy_fails_naming_sqlite_in_production() -> None:
    from testsupport.processes import manage

    result = manage("check", "--deploy", env=production_env(DATABASE_URL="sqlite:////tmp/stratus.sqlite3"))
    assert result.returncode != 0
    assert "stratus.E001" in result.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "variable",
    ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "AWS_STORAGE_BUCKET_NAME"],
)
def test_missing_required_production_variable_stops_start_up_naming_it(variable: str) -> None:
    from testsupport.processes import manage

    env = production_env()
    del env[variable]
    result = manage("check", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"stratus: configuration error: {variable}: is required in production; ")
    assert "Traceback" not in result.stderr


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://db/stratus"),
        ("REDIS_URL", "localhost:6379"),
        ("DB_POOL_MAX_SIZE", "many"),
        ("DEBUG", "perhaps"),
        ("STRATUS_ENV", "prod"),
    ],
)
def test_malformed_variable_stops_start_up_naming_it(variable: str, value: str) -> None:
    from testsupport.processes import manage

    result = manage("check", env=production_env(**{variable: value}))
    assert result.returncode != 0
    assert f"stratus: configuration error: {variable}: is" in result.stderr
    assert "Traceback" not in result.stderr
