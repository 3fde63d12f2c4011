"""Stratus settings: one module, every value from the environment.

The profile follows from what is set. With nothing set, Stratus runs on the
embedded default (SQLite file and media folder under DATA_DIR, in-memory cache,
database sessions). With STRATUS_ENV=production every backing service must be
named explicitly and start-up stops with a message naming anything missing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import environ
from csp import constants as csp_constants

from stratus.analytics.client import parse_url as parse_analytics_url
from stratus.documents.validation import ALLOWED_TYPES as DOCUMENT_TYPES
from stratus.platform.client_address import TrustedProxiesError, parse_trusted_proxies
from stratus.platform.env import (
    Requirements,
    database_config,
    read_bool,
    read_choice,
    read_float,
    read_int,
    read_list,
    require_str,
    require_url,
)
from stratus.platform.storage import s3_client_config

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
requirements = Requirements()

STRATUS_ENV = read_choice(env, requirements, "STRATUS_ENV", ("development", "production"), "development")
PRODUCTION = STRATUS_ENV == "production"

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

DEV_SECRET_KEY = "stratus-development-key-not-for-production"
if PRODUCTION:
    SECRET_KEY = require_str(env, requirements, "SECRET_KEY", "a random string of at least 50 characters")
    ALLOWED_HOSTS = read_list(env, "ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        requirements.add("ALLOWED_HOSTS", "is required in production; expected host names, comma separated")
    DATABASE_URL = require_url(
        env,
        requirements,
        "DATABASE_URL",
        ("postgres", "postgresql", "sqlite"),
        "postgres://stratus:secret@db:5432/stratus",
    )
    REDIS_URL = require_url(env, requirements, "REDIS_URL", ("redis", "rediss"), "redis://redis:6379/0")
    AWS_STORAGE_BUCKET_NAME = require_str(
        env, requirements, "AWS_STORAGE_BUCKET_NAME", "the S3 bucket that holds documents"
    )
else:
    SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
    ALLOWED_HOSTS = read_list(env, "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
    DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'stratus.sqlite3'}"
    REDIS_URL = env.str("REDIS_URL", default="") or None
    AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = read_bool(env, requirements, "DEBUG", not PRODUCTION)
CSRF_TRUSTED_ORIGINS = read_list(env, "CSRF_TRUSTED_ORIGINS")

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    # platform first: its management commands (migrate under a lock) take precedence
    "stratus.platform",
    "stratus.accounts",
    "stratus.lockout",
    "stratus.crm",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "storages",
    "stratus.realtime",
    "stratus.documents",
    # --- API ---
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "stratus.api",
    # --- Background work ---
    "stratus.reminders",
    "stratus.campaigns",
    "stratus.imports",
    "stratus.reports",
    "stratus.knowledge",
    "stratus.analytics",
    # --- Browser app ---
    "django_htmx",
    "csp",
    "stratus.web",
]

MIDDLEWARE = [
    "stratus.platform.request_id.RequestIdMiddleware",
    # /health/live and /health/ready answer probes that address a replica by IP (no host check).
    "stratus.platform.probes.HealthProbeMiddleware",
    # Requests by route template, method and status, and their latency (not the probes above).
    "stratus.platform.request_metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "stratus.web.shell.middleware.HtmxSignInRedirectMiddleware",
    # --- API: after sessions and auth, so both can resolve the organization ---
    "stratus.api.middleware.ApiGuardMiddleware",
    "stratus.api.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "stratus.urls"
WSGI_APPLICATION = "stratus.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Database ---------------------------------------------------------------------------------

DATABASES: dict[str, dict[str, Any]] = {}
if DATABASE_URL:
    DATABASES["default"] = database_config(DATABASE_URL, env, requirements)

# --- Cache, sessions --------------------------------------------------------------------------

CACHE_TIMEOUT = read_int(env, requirements, "CACHE_TIMEOUT", 300, 0)
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            # Fails open: a Redis outage turns cache reads into misses, never into 500s.
            "BACKEND": "stratus.platform.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": CACHE_TIMEOUT,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="stratus"),
            "OPTIONS": {
                "socket_connect_timeout": read_float(env, requirements, "REDIS_TIMEOUT", 0.5),
                "socket_timeout": read_float(env, requirements, "REDIS_TIMEOUT", 0.5),
                "retry_on_timeout": False,
            },
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "stratus",
            "TIMEOUT": CACHE_TIMEOUT,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

SESSION_COOKIE_AGE = read_int(env, requirements, "SESSION_COOKIE_AGE", 14 * 24 * 3600, 60)

# --- Static files and media -------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

STATIC_BACKEND = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if not DEBUG
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)

# Object storage: any S3-compatible service (AWS S3, MinIO, DigitalOcean Spaces, Cloudflare R2).
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_S3_ADDRESSING_STYLE = read_choice(
    env, requirements, "AWS_S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "auto"
)
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
if bool(AWS_ACCESS_KEY_ID) != bool(AWS_SECRET_ACCESS_KEY):
    requirements.add(
        "AWS_SECRET_ACCESS_KEY" if AWS_ACCESS_KEY_ID else "AWS_ACCESS_KEY_ID",
        "is required when the other half of the key pair is set (or unset both to use an instance role)",
    )
AWS_LOCATION = env.str("AWS_LOCATION", default="").strip("/")
AWS_DEFAULT_ACL = None  # the bucket stays private; downloads use presigned URLs
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = read_int(env, requirements, "AWS_QUERYSTRING_EXPIRE", 300, 1)
AWS_S3_FILE_OVERWRITE = False
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_CLIENT_CONFIG = s3_client_config(
    addressing_style=None if AWS_S3_ADDRESSING_STYLE == "auto" else AWS_S3_ADDRESSING_STYLE,
    connect_timeout=read_float(env, requirements, "AWS_S3_CONNECT_TIMEOUT", 5.0),
    read_timeout=read_float(env, requirements, "AWS_S3_READ_TIMEOUT", 30.0),
    max_attempts=read_int(env, requirements, "AWS_S3_MAX_ATTEMPTS", 3, 1),
)

if AWS_STORAGE_BUCKET_NAME:
    MEDIA_BACKEND: dict[str, Any] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {}}
else:
    MEDIA_BACKEND = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }

STORAGES = {"default": MEDIA_BACKEND, "staticfiles": {"BACKEND": STATIC_BACKEND}}

# --- Documents (attachments in object storage) -------------------------------------------------

DOCUMENTS_MAX_UPLOAD_BYTES = read_int(env, requirements, "DOCUMENTS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, 1)
DOCUMENTS_INLINE_UPLOAD_MAX_BYTES = min(
    read_int(env, requirements, "DOCUMENTS_INLINE_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, 1),
    DOCUMENTS_MAX_UPLOAD_BYTES,
)
DOCUMENTS_UPLOAD_URL_EXPIRE = read_int(env, requirements, "DOCUMENTS_UPLOAD_URL_EXPIRE", 900, 10)
DOCUMENTS_PENDING_MAX_AGE = read_int(env, requirements, "DOCUMENTS_PENDING_MAX_AGE", 24 * 3600, 60)
if DOCUMENTS_PENDING_MAX_AGE <= DOCUMENTS_UPLOAD_URL_EXPIRE:
    # Otherwise the cleanup could remove an upload whose URL a client may still use.
    requirements.add(
        "DOCUMENTS_PENDING_MAX_AGE",
        f"is {DOCUMENTS_PENDING_MAX_AGE}; expected more seconds than DOCUMENTS_UPLOAD_URL_EXPIRE "
        f"({DOCUMENTS_UPLOAD_URL_EXPIRE})",
    )
DOCUMENTS_ALLOWED_TYPES = read_list(env, "DOCUMENTS_ALLOWED_TYPES", list(DOCUMENT_TYPES))
if unknown_types := sorted(set(DOCUMENTS_ALLOWED_TYPES) - set(DOCUMENT_TYPES)):
    requirements.add(
        "DOCUMENTS_ALLOWED_TYPES",
        f"names types Stratus cannot detect ({', '.join(unknown_types)}); expected some of "
        f"{', '.join(DOCUMENT_TYPES)}",
    )

# Searchable text of documents: extracted by the worker in a child process held to these limits;
# a file beyond them is kept but marked "not searchable" with the reason.
DOCUMENTS_TEXT_TIMEOUT = read_int(env, requirements, "DOCUMENTS_TEXT_TIMEOUT", 60, 1)
DOCUMENTS_TEXT_MAX_MEMORY = read_int(
    env, requirements, "DOCUMENTS_TEXT_MAX_MEMORY", 1024 * 1024 * 1024, 128 * 1024 * 1024
)
DOCUMENTS_TEXT_MAX_PAGES = read_int(env, requirements, "DOCUMENTS_TEXT_MAX_PAGES", 2000, 1)
DOCUMENTS_TEXT_MAX_CHARS = read_int(env, requirements, "DOCUMENTS_TEXT_MAX_CHARS", 5_000_000, 1)
DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES = read_int(
    env, requirements, "DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES", 200 * 1024 * 1024, 1
)
DOCUMENTS_TEXT_MAX_ATTEMPTS = read_int(env, requirements, "DOCUMENTS_TEXT_MAX_ATTEMPTS", 3, 1)

# --- Security ---------------------------------------------------------------------------------

HTTPS = read_bool(env, requirements, "HTTPS", PRODUCTION)
TRUST_X_FORWARDED_PROTO = read_bool(env, requirements, "TRUST_X_FORWARDED_PROTO", PRODUCTION)
if TRUST_X_FORWARDED_PROTO:
    # Only behind a proxy that always sets this header (the shipped Nginx configuration does).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma separated): the client
# address of rate limits, lockouts and logs (stratus.platform.client_address). None by default.
TRUSTED_PROXIES = read_list(env, "TRUSTED_PROXIES")
try:
    parse_trusted_proxies(TRUSTED_PROXIES)
except TrustedProxiesError as error:
    requirements.add("TRUSTED_PROXIES", f"is malformed: {error}; expected addresses or CIDR networks")
if env.str("FORWARDED_ALLOW_IPS", default=""):
    requirements.add("FORWARDED_ALLOW_IPS", "is no longer read; set TRUSTED_PROXIES (CIDRs) instead")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^api/v1/health/"]  # probes reach replicas over plain HTTP
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = read_int(env, requirements, "SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = read_bool(env, requirements, "SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = read_bool(env, requirements, "SECURE_HSTS_PRELOAD", False)
# Preloading is a submission to browser vendors that is hard to undo: the operator's decision,
# so its absence is not reported as a deployment problem.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
DATA_UPLOAD_MAX_MEMORY_SIZE = read_int(env, requirements, "MAX_REQUEST_BODY_BYTES", 2_621_440, 1024)
# Deepest nesting of arrays and objects in a JSON body or message (checked before parsing).
JSON_MAX_DEPTH = read_int(env, requirements, "MAX_JSON_DEPTH", 64, 8)

# --- REST API --------------------------------------------------------------------------------

SIGNUP_ENABLED = read_bool(env, requirements, "SIGNUP_ENABLED", True)
# Lifetime of emailed links: invitations (days) and sign-up confirmations (hours).
INVITATION_MAX_AGE_DAYS = read_int(env, requirements, "INVITATION_MAX_AGE_DAYS", 7, 1)
SIGNUP_CONFIRM_MAX_AGE_HOURS = read_int(env, requirements, "SIGNUP_CONFIRM_MAX_AGE_HOURS", 24, 1)
# Requests per minute; 0 switches a limit off. Counted in the cache (Redis when REDIS_URL is set).
API_RATE_LIMIT_TOKEN = read_int(env, requirements, "API_RATE_LIMIT_TOKEN", 600, 0)
API_RATE_LIMIT_USER = read_int(env, requirements, "API_RATE_LIMIT_USER", 600, 0)
API_RATE_LIMIT_ORGANIZATION = read_int(env, requirements, "API_RATE_LIMIT_ORGANIZATION", 3000, 0)
API_RATE_LIMIT_ANONYMOUS = read_int(env, requirements, "API_RATE_LIMIT_ANONYMOUS", 30, 0)
# Failed log-ins (stratus.lockout): free tries per (account, client address), then a wait of
# BASE * 2^n seconds up to MAX; from THRESHOLD failures on an account (from any address) each
# address gets one free try. Counters are forgotten WINDOW seconds after the last failure.
LOGIN_LOCKOUT_FREE_FAILURES = read_int(env, requirements, "LOGIN_LOCKOUT_FREE_FAILURES", 5, 1)
LOGIN_LOCKOUT_BASE_SECONDS = read_float(env, requirements, "LOGIN_LOCKOUT_BASE_SECONDS", 1.0)
if LOGIN_LOCKOUT_BASE_SECONDS <= 0:
    requirements.add("LOGIN_LOCKOUT_BASE_SECONDS", f"is {LOGIN_LOCKOUT_BASE_SECONDS}; expected seconds > 0")
LOGIN_LOCKOUT_MAX_SECONDS = read_int(env, requirements, "LOGIN_LOCKOUT_MAX_SECONDS", 900, 1)
LOGIN_LOCKOUT_ACCOUNT_THRESHOLD = read_int(env, requirements, "LOGIN_LOCKOUT_ACCOUNT_THRESHOLD", 20, 1)
LOGIN_LOCKOUT_WINDOW_SECONDS = max(
    read_int(env, requirements, "LOGIN_LOCKOUT_WINDOW_SECONDS", 3600, 60), LOGIN_LOCKOUT_MAX_SECONDS
)
API_IDEMPOTENCY_TTL_SECONDS = read_int(env, requirements, "API_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, 60)
API_TOKEN_LAST_USED_PRECISION_SECONDS = 60
# Seconds a Bearer token's grant stays cached (0: looked up on every request). Only with Redis:
# every process must see the same entries, so that a revocation drops them everywhere.
API_TOKEN_CACHE_SECONDS = read_int(env, requirements, "API_TOKEN_CACHE_SECONDS", 60 if REDIS_URL else 0, 0)
# API paths get problem details (JSON) for CSRF failures too; other paths keep Django's page.
CSRF_FAILURE_VIEW = "stratus.api.errors.csrf_failure"


def _storage_origins() -> list[str]:
    """Where a record page's direct-to-storage upload POSTs go (the bucket's endpoint), if any."""
    if not AWS_STORAGE_BUCKET_NAME:
        return []
    if not AWS_S3_ENDPOINT_URL:
        return ["https://*.amazonaws.com"]
    scheme, _sep, rest = AWS_S3_ENDPOINT_URL.partition("://")
    host = rest.split("/", 1)[0]
    # Virtual-hosted addressing puts the bucket in a subdomain of the endpoint.
    return [f"{scheme}://{host}", f"{scheme}://*.{host}"]


# Browser pages: scripts only from this site (no inline script, no eval), no framing. The API's
# JSON and its Swagger/ReDoc pages, and the admin, keep the policy Nginx sets for them.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ("/api/", "/admin/"),
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF, *_storage_origins()],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "object-src": [csp_constants.NONE],
    },
}
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "stratus.api.authentication.BearerTokenAuthentication",
        "stratus.api.authentication.OrganizationSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["stratus.api.permissions.ReadViewerWriteMember"],
    "DEFAULT_THROTTLE_CLASSES": [
        "stratus.api.throttling.CredentialRateThrottle",
        "stratus.api.throttling.OrganizationRateThrottle",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["stratus.api.renderers.FastJSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "stratus.api.pagination.KeysetPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "stratus.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "stratus.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "STRICT_JSON": True,
    "UNICODE_JSON": True,
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Stratus API",
    "DESCRIPTION": (
        "REST API of the Stratus CRM. Authenticate with `Authorization: Bearer <token>` or a "
        "browser session (plus `X-CSRFToken` on writes and `X-Organization: <slug>` when you belong "
        "to several organizations). Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "COMPONENT_NO_READ_ONLY_REQUIRED": False,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "stratus.accounts.models.Role",
        "InvitationStatusEnum": "stratus.accounts.models.InvitationStatus",
        "StageKindEnum": "stratus.crm.models.StageKind",
        "ActivityKindEnum": "stratus.crm.models.ActivityKind",
        "ImportKindEnum": "stratus.imports.models.ImportKind",
        "ImportStateEnum": "stratus.imports.models.ImportState",
        "DedupPolicyEnum": "stratus.imports.models.DedupPolicy",
        "CampaignStateEnum": "stratus.campaigns.models.CampaignState",
        "RecipientStateEnum": "stratus.campaigns.models.RecipientState",
        "ReminderStateEnum": "stratus.reminders.models.ReminderState",
        "EmailStateEnum": "stratus.reminders.models.EmailState",
        "CurrencyCodeEnum": "stratus.reports.currencies.ISO_4217_SORTED",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "stratus.api.schema.postprocess_problem_responses",
        "stratus.api.schema.postprocess_blank_alternatives",
    ],
}

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = read_choice(
    env, requirements, "LOG_LEVEL", ("debug", "info", "warning", "error", "critical"), "info"
).upper()
LOG_FORMAT = read_choice(env, requirements, "LOG_FORMAT", ("json", "text"), "json" if PRODUCTION else "text")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "stratus.platform.request_id.RequestIdLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # Stratus logs each request itself (with its id); the server's duplicate is noise.
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
    },
}

# Python warnings become log records, so production stderr stays one JSON document per line.
logging.captureWarnings(True)

# --- Error reporting --------------------------------------------------------------------------

SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = read_float(env, requirements, "SENTRY_TRACES_SAMPLE_RATE", 0.0)

# --- Live updates (WebSocket) -----------------------------------------------------------------

ASGI_APPLICATION = "stratus.asgi.application"
# The channel layer and the per-organization event log (sequence ids, catch-up) live in this
# Redis; without one (embedded default) both stay in the process, which serves HTTP and
# WebSocket together.
REALTIME_REDIS_URL = (
    require_url(env, requirements, "REALTIME_REDIS_URL", ("redis", "rediss"), "redis://redis:6379/2")
    if env.str("REALTIME_REDIS_URL", default="")
    else REDIS_URL
)
REALTIME_PREFIX = env.str("REALTIME_PREFIX", default="stratus")
REALTIME_RETENTION_SECONDS = read_int(env, requirements, "REALTIME_RETENTION_SECONDS", 600, 1)
REALTIME_RETENTION_EVENTS = read_int(env, requirements, "REALTIME_RETENTION_EVENTS", 10_000, 1)
REALTIME_HEARTBEAT_SECONDS = read_float(env, requirements, "REALTIME_HEARTBEAT_SECONDS", 25.0)
REALTIME_SUBSCRIBE_TIMEOUT_SECONDS = read_float(env, requirements, "REALTIME_SUBSCRIBE_TIMEOUT_SECONDS", 10.0)
REALTIME_REAUTH_SECONDS = read_float(env, requirements, "REALTIME_REAUTH_SECONDS", 300.0)
REALTIME_TICKET_TTL_SECONDS = read_int(env, requirements, "REALTIME_TICKET_TTL_SECONDS", 30, 1)
# Without Redis: how often the web process reads the database event log for events raised
# in other processes (the worker's reminders and progress).
REALTIME_POLL_SECONDS = read_float(env, requirements, "REALTIME_POLL_SECONDS", 0.5)
if REALTIME_REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            # Pub/sub: one PUBLISH per event reaches every ws process, which fans out locally.
            # Messages are not stored by the layer; sequence ids and the event log fill gaps.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REALTIME_REDIS_URL], "prefix": f"{REALTIME_PREFIX}:layer"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Search by meaning (Qdrant, embeddings) ----------------------------------------------------
# A Qdrant server when QDRANT_URL is set (qdrant-client); otherwise Qdrant Edge, the Qdrant engine
# in process, with its files under DATA_DIR/qdrant (the embedded default).
QDRANT_URL = (
    (require_url(env, requirements, "QDRANT_URL", ("http", "https"), "http://qdrant:6333") or "")
    if env.str("QDRANT_URL", default="")
    else ""
)
QDRANT_API_KEY = env.str("QDRANT_API_KEY", default="") or None
QDRANT_TIMEOUT = read_float(env, requirements, "QDRANT_TIMEOUT", 10.0)
QDRANT_PATH = DATA_DIR / "qdrant"
# The alias searches read; search_reindex fills a new collection and moves the alias to it.
SEARCH_COLLECTION = env.str("SEARCH_COLLECTION", default="stratus_passages")
# An OpenAI-compatible /v1/embeddings endpoint in place of the packaged local model.
EMBEDDINGS_URL = (
    (require_url(env, requirements, "EMBEDDINGS_URL", ("http", "https"), "http://embeddings:8080/v1") or "")
    if env.str("EMBEDDINGS_URL", default="")
    else ""
)
EMBEDDINGS_API_KEY = env.str("EMBEDDINGS_API_KEY", default="") or None
EMBEDDINGS_MODEL = env.str("EMBEDDINGS_MODEL", default="all-MiniLM-L6-v2")
EMBEDDINGS_DIMENSIONS = read_int(env, requirements, "EMBEDDINGS_DIMENSIONS", 384, 8)
EMBEDDINGS_THREADS = read_int(env, requirements, "EMBEDDINGS_THREADS", 0, 0)
# Chunking: passage length and the overlap between neighbours, in characters.
SEARCH_CHUNK_CHARS = read_int(env, requirements, "SEARCH_CHUNK_CHARS", 800, 100)
SEARCH_CHUNK_OVERLAP = read_int(env, requirements, "SEARCH_CHUNK_OVERLAP", 150, 0)
if SEARCH_CHUNK_OVERLAP >= SEARCH_CHUNK_CHARS // 2:
    requirements.add(
        "SEARCH_CHUNK_OVERLAP", f"is {SEARCH_CHUNK_OVERLAP}; expected less than half of SEARCH_CHUNK_CHARS"
    )
# Records the indexer takes per batch, and how often the beat wakes it (seconds).
SEARCH_INDEX_BATCH = read_int(env, requirements, "SEARCH_INDEX_BATCH", 64, 1)
SEARCH_INDEX_INTERVAL = read_float(env, requirements, "SEARCH_INDEX_INTERVAL", 2.0)
# Search "both": weighted reciprocal rank fusion, weight / (k + rank), the ranking by words
# weighing 1 (chosen on half of the labelled set, checked on the other: docs/search.md).
SEARCH_FUSION_K = read_int(env, requirements, "SEARCH_FUSION_K", 60, 1)
SEARCH_MEANING_WEIGHT = read_float(env, requirements, "SEARCH_MEANING_WEIGHT", 4.0)
if SEARCH_MEANING_WEIGHT <= 0:
    requirements.add("SEARCH_MEANING_WEIGHT", f"is {SEARCH_MEANING_WEIGHT}; expected a number > 0")
# Readiness says "degraded" when more records than this wait to be indexed.
SEARCH_BACKLOG_DEGRADED = read_int(env, requirements, "SEARCH_BACKLOG_DEGRADED", 5000, 1)

# --- Start-up waits and health ----------------------------------------------------------------

HEALTH_CHECK_TIMEOUT = read_float(env, requirements, "HEALTH_CHECK_TIMEOUT", 2.0)

# --- Background work (Celery), scheduler, email ------------------------------------------------
# The broker only carries wake-ups: what must happen is a row in the database, swept periodically.
# Embedded default: kombu's filesystem transport under DATA_DIR (no Redis), beat inside the worker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="").strip()
if not CELERY_BROKER_URL and PRODUCTION:
    CELERY_BROKER_URL = REDIS_URL or ""
CELERY_EMBEDDED_BROKER = not CELERY_BROKER_URL
CELERY_BROKER_DIR = DATA_DIR / "broker"
if CELERY_EMBEDDED_BROKER:
    CELERY_BROKER_URL = "filesystem://"
elif not CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    requirements.add(
        "CELERY_BROKER_URL", "is malformed; expected a redis/rediss URL such as redis://redis:6379/1"
    )
# Seconds a broker call may take. A request that enqueues has already committed its row, so a
# hung or unreachable broker must fail the publish quickly (the sweeps deliver the work later).
CELERY_BROKER_TIMEOUT = read_float(env, requirements, "CELERY_BROKER_TIMEOUT", 2.0)
# Seconds a task message may stay unacknowledged before Redis hands it to another worker.
CELERY_VISIBILITY_TIMEOUT = read_int(env, requirements, "CELERY_VISIBILITY_TIMEOUT", 3600, 10)
CELERY_WORKER_CONCURRENCY = read_int(env, requirements, "CELERY_WORKER_CONCURRENCY", 0, 0) or None
# Scheduler: redbeat's lock in Redis lets any number of beats run; one dispatches. A standby
# takes over at most LOCK_TIMEOUT + MAX_INTERVAL seconds after the active one dies.
CELERY_BEAT_LOCK_TIMEOUT = read_int(env, requirements, "CELERY_BEAT_LOCK_TIMEOUT", 30, 2)
CELERY_BEAT_MAX_INTERVAL = read_int(env, requirements, "CELERY_BEAT_MAX_INTERVAL", 5, 1)
CELERY_BEAT_REDIS_URL = env.str("CELERY_BEAT_REDIS_URL", default="").strip() or (
    None if CELERY_EMBEDDED_BROKER else CELERY_BROKER_URL
)
if CELERY_BEAT_LOCK_TIMEOUT <= CELERY_BEAT_MAX_INTERVAL:
    requirements.add(
        "CELERY_BEAT_LOCK_TIMEOUT",
        f"is {CELERY_BEAT_LOCK_TIMEOUT}; expected more than CELERY_BEAT_MAX_INTERVAL "
        f"({CELERY_BEAT_MAX_INTERVAL}) so the active beat renews its lock in time",
    )
# How often the sweeps (due reminders, campaign batches, stuck imports) run, and how often
# abandoned document uploads are cleaned up (seconds).
SWEEP_INTERVAL = read_float(env, requirements, "SWEEP_INTERVAL", 30.0)
DOCUMENTS_CLEANUP_INTERVAL = read_int(env, requirements, "DOCUMENTS_CLEANUP_INTERVAL", 3600, 1)

# Analytics store (ClickHouse): off unless ANALYTICS_URL is set (PostgreSQL required). The
# reader (web replicas, reports) is read-only in ClickHouse itself; only the worker gets the
# writer URL (the shipper, the backfill, analytics_migrate). See docs/operations/analytics.md.
ANALYTICS_URL = env.str("ANALYTICS_URL", default="").strip()
ANALYTICS_WRITER_URL = env.str("ANALYTICS_WRITER_URL", default="").strip()
for _variable, _url in (("ANALYTICS_URL", ANALYTICS_URL), ("ANALYTICS_WRITER_URL", ANALYTICS_WRITER_URL)):
    if _url:
        try:
            parse_analytics_url(_url)
        except ValueError as _error:
            requirements.add(_variable, f"is malformed: {_error}")
# Per-query limits of the reader: seconds, bytes, rows.
ANALYTICS_MAX_EXECUTION_TIME = read_int(env, requirements, "ANALYTICS_MAX_EXECUTION_TIME", 15, 1)
ANALYTICS_MAX_MEMORY_USAGE = read_int(
    env, requirements, "ANALYTICS_MAX_MEMORY_USAGE", 2_000_000_000, 10_000_000
)
ANALYTICS_MAX_RESULT_ROWS = read_int(env, requirements, "ANALYTICS_MAX_RESULT_ROWS", 100_000, 1)
ANALYTICS_CONNECT_TIMEOUT = read_int(env, requirements, "ANALYTICS_CONNECT_TIMEOUT", 5, 1)
# The shipper: how often it runs, how many outbox entries one batch takes.
ANALYTICS_SHIP_INTERVAL = read_float(env, requirements, "ANALYTICS_SHIP_INTERVAL", 5.0)
ANALYTICS_SHIP_BATCH = read_int(env, requirements, "ANALYTICS_SHIP_BATCH", 20_000, 1)
# Readiness reports analytics as degraded (never failing) when the oldest unshipped change is older.
ANALYTICS_LAG_DEGRADED_SECONDS = read_int(env, requirements, "ANALYTICS_LAG_DEGRADED_SECONDS", 300, 1)

# Email: EMAIL_URL such as smtp+tls://user:pass@host:587, smtp+ssl://host:465, smtp://host:25,
# consolemail:// or filemail:// (the embedded default writes each message under EMAIL_FILE_PATH).
EMAIL_URL = env.str("EMAIL_URL", default="").strip()
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend"
)
if EMAIL_URL:
    try:
        _email = environ.Env.email_url_config(EMAIL_URL)
    except (KeyError, ValueError):
        requirements.add("EMAIL_URL", "is malformed; expected e.g. smtp+tls://user:pass@smtp.example.com:587")
    else:
        EMAIL_BACKEND = str(_email["EMAIL_BACKEND"])
        EMAIL_HOST = str(_email.get("EMAIL_HOST") or "localhost")
        EMAIL_PORT = int(_email.get("EMAIL_PORT") or 25)
        EMAIL_HOST_USER = str(_email.get("EMAIL_HOST_USER") or "")
        EMAIL_HOST_PASSWORD = str(_email.get("EMAIL_HOST_PASSWORD") or "")
        EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
        EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT = read_int(env, requirements, "EMAIL_TIMEOUT", 30, 1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stratus <noreply@stratus.example>")
# Absolute base of links in emails (unsubscribe, tracking), e.g. https://crm.example.com
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Campaign sending: messages per second across the whole cluster, messages per batch task,
# and the retry schedule for temporary SMTP failures.
CAMPAIGN_RATE_LIMIT = read_float(env, requirements, "CAMPAIGN_RATE_LIMIT", 10.0)
CAMPAIGN_BATCH_SIZE = read_int(env, requirements, "CAMPAIGN_BATCH_SIZE", 100, 1)
CAMPAIGN_MAX_ATTEMPTS = read_int(env, requirements, "CAMPAIGN_MAX_ATTEMPTS", 5, 1)
CAMPAIGN_RETRY_BACKOFF = read_float(env, requirements, "CAMPAIGN_RETRY_BACKOFF", 60.0)
# A sender that has not finished its batch after this many seconds is presumed dead: another
# may take over, and a message it left "sending" is counted as sent (never sent twice).
CAMPAIGN_LEASE_SECONDS = read_int(env, requirements, "CAMPAIGN_LEASE_SECONDS", 120, 1)
# Live campaign.progress while sending: after about 1% of the recipients, at most once per
# this many seconds (and at least every ten times it while messages go out).
CAMPAIGN_PROGRESS_SECONDS = read_float(env, requirements, "CAMPAIGN_PROGRESS_SECONDS", 1.0)
# Imports: rows per transaction; an import silent for IMPORT_STALE_AFTER seconds is resumed.
IMPORT_CHUNK_SIZE = read_int(env, requirements, "IMPORT_CHUNK_SIZE", 500, 1)
IMPORT_STALE_AFTER = read_int(env, requirements, "IMPORT_STALE_AFTER", 300, 5)
IMPORT_MAX_FILE_BYTES = read_int(env, requirements, "IMPORT_MAX_FILE_BYTES", 512 * 1024 * 1024, 1)
# The engine that computes reports (stratus.reports.engines): the primary database, or the
# analytics store (ClickHouse, ANALYTICS_URL) with "clickhouse".
REPORTS_ENGINE = read_choice(env, requirements, "REPORTS_ENGINE", ("database", "clickhouse"), "database")
# With the ClickHouse engine, when the store cannot be reached: "error" answers 503 with
# Retry-After (ANALYTICS_RETRY_AFTER seconds), "database" computes the report on the primary.
ANALYTICS_FALLBACK = read_choice(env, requirements, "ANALYTICS_FALLBACK", ("error", "database"), "error")
ANALYTICS_RETRY_AFTER = read_int(env, requirements, "ANALYTICS_RETRY_AFTER", 30, 1)
if REPORTS_ENGINE == "clickhouse" and not ANALYTICS_URL:
    requirements.add("REPORTS_ENGINE", "is clickhouse but ANALYTICS_URL (the store it reads) is not set")

requirements.raise_if_any()

if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default=STRATUS_ENV),
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
    )
