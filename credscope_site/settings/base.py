"""Settings shared by every environment, all read from the environment (12-factor).

Environment variables (see README and .env.example):
DATABASE_URL, DATABASE_URL_MIGRATE, REDIS_URL, SECRET_KEY, AUDIT_CHAIN_KEY, DEBUG, ALLOWED_HOSTS,
CREDSCOPE_MODEL_DIR, CREDSCOPE_DATA_DIR, CREDSCOPE_AUDIT_CHECKPOINT_DIR.
A bad value raises `ConfigurationError`; the entry points turn it into one line and exit 2.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from celery.schedules import crontab

from credscope_site.config import (
    ConfigurationError,
    audit_chain_keys,
    database_from_url,
    development_audit_chain_key,
    development_secret_key,
)

from ._paths import BASE_DIR, VAR_DIR

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_flag(name: str, default: bool) -> bool:
    """A strict boolean: 'maybe' is an error, not a silent False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false (got {raw!r})")


DEBUG = env_flag("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigurationError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = development_secret_key(VAR_DIR)

# The audit chain's HMAC keys (docs/AUDIT.md). Never stored in the database: whoever can write
# the table must not be able to re-sign it. The newest key signs; retired ones only verify.
_audit_chain_key = env.str("AUDIT_CHAIN_KEY", default="")
if not _audit_chain_key:
    if not DEBUG:
        raise ConfigurationError(
            "AUDIT_CHAIN_KEY must be set when DEBUG is off "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    _audit_chain_key = development_audit_chain_key(VAR_DIR)
AUDIT_CHAIN_KEYS, AUDIT_CHAIN_KEY_ID = audit_chain_keys(
    _audit_chain_key, env.str("AUDIT_CHAIN_RETIRED_KEYS", default="")
)
del _audit_chain_key

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "credscope_site",
    "audits",
    "scoring",
    "applicants",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise: static files keep their long cache; everything else is no-store.
    "credscope_site.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "credscope_site.middleware.RequestIdMiddleware",
    "credscope_site.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says otherwise (login, health).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a brute-force lockout (web sign-in, /admin/login/, API token) into a 429.
    "axes.middleware.AxesMiddleware",
]

# Django's model backend, reading a user's permissions in one query (see the module).
ROOT_URLCONF = "credscope_site.urls"
WSGI_APPLICATION = "credscope_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "credscope_site.navigation.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'credscope.sqlite3'}")
    )
}
# Migrations run as the schema's owner; the web and workers connect as a role that may only
# append to the audit trail (deploy/postgres/roles.sql). `manage.py migrate` switches to this
# URL when it is set (credscope_site/management/commands/migrate.py).
MIGRATION_DATABASE = None
if env.str("DATABASE_URL_MIGRATE", default=""):
    MIGRATION_DATABASE = database_from_url(
        env.str("DATABASE_URL_MIGRATE"), variable="DATABASE_URL_MIGRATE"
    )
    if any(
        MIGRATION_DATABASE.get(part) != DATABASES["default"].get(part)
        for part in ("ENGINE", "NAME", "HOST", "PORT")
    ):
        raise ConfigurationError(
            "DATABASE_URL_MIGRATE must name the same database as DATABASE_URL "
            "(only the user and password differ)"
        )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so concurrent writers queue
    # instead of failing, and the audit chain's read-then-append cannot interleave.
    # WAL lets pages read while a worker process (the demo's, beside runserver) writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    VAR_DIR.mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters travel apart from the SQL: client-side binding escapes every value into
    # the query text, which cost ~10 ms per decision for its stored contributions (JSON).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
        "DATABASE_SERVER_SIDE_BINDING", default=True
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: a locked-out username or address is refused before any password check.
# django-axes first (lockouts), then Django's model backend with permissions read in one
# query (credscope_site.backends).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "credscope_site.backends.PermissionBackend",
]
# An idle session ends: each request pushes the expiry forward by this much.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
if SESSION_IDLE_TIMEOUT_MINUTES < 1:
    raise ConfigurationError("SESSION_IDLE_TIMEOUT_MINUTES must be 1 or more")
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True

# Content-Security-Policy (django-csp): scripts, styles and everything else from this server
# only; no inline script or style anywhere (pages pass data with json_script, and set sizes
# from data- attributes in static/js/). Chart.js draws on canvas; images may be data: URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Times are stored in UTC and shown in this zone, named on every page (an IANA name).
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ConfigurationError(
        f"TIME_ZONE must be an IANA time zone such as Europe/Prague (got {TIME_ZONE!r})"
    ) from None
# The currency every amount is shown in (ISO 4217); the data's amounts carry none of their own.
CREDSCOPE_CURRENCY = env.str("CREDSCOPE_CURRENCY", default="EUR")
if not re.fullmatch(r"[A-Z]{3}", CREDSCOPE_CURRENCY):
    raise ConfigurationError(
        f"CREDSCOPE_CURRENCY must be a three-letter ISO 4217 code such as EUR "
        f"(got {CREDSCOPE_CURRENCY!r})"
    )
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here (the image builds it; a test collects into a temporary folder).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# Files built from npm by `make vendor` (or the image's Node stage), which pages link to.
CREDSCOPE_VENDOR_FILES = ["vendor/chart.umd.min.js", "vendor/chart.umd.min.js.map"]
WHITENOISE_USE_FINDERS = DEBUG  # serve static/ straight from source while developing
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it

# Where model bundles and data caches live; both may be large, both stay out of git.
CREDSCOPE_MODEL_DIR = Path(env.str("CREDSCOPE_MODEL_DIR", default=str(VAR_DIR / "models")))
CREDSCOPE_DATA_DIR = Path(env.str("CREDSCOPE_DATA_DIR", default=str(VAR_DIR / "data")))

# Audit checkpoints: the chain's head, signed, written outside the database (docs/AUDIT.md)
# every N events and every few minutes, to each sink listed (dotted class paths).
CREDSCOPE_AUDIT_CHECKPOINT_DIR = Path(
    env.str("CREDSCOPE_AUDIT_CHECKPOINT_DIR", default=str(VAR_DIR / "audit-checkpoints"))
)
CREDSCOPE_AUDIT_CHECKPOINT_EVERY = env.int("CREDSCOPE_AUDIT_CHECKPOINT_EVERY", default=100)
# Failed sign-ins: one audit event per (username, address) at counts 1, 10, 100, ... within
# this many seconds, and one for the rest when the window closes (audits.auth_events).
CREDSCOPE_FAILED_SIGN_IN_WINDOW = env.int("CREDSCOPE_FAILED_SIGN_IN_WINDOW", default=60)
CREDSCOPE_AUDIT_CHECKPOINT_SINKS = env.list(
    "CREDSCOPE_AUDIT_CHECKPOINT_SINKS", default=["audits.checkpoints.FileCheckpointSink"]
)

# Redis: the Celery broker and result backend, and the shared cache. Unset means the embedded
# default: tasks run eagerly in the calling process and the cache is per process.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ConfigurationError("REDIS_URL is malformed: expected redis://HOST:PORT/DB")

# With no Redis, CREDSCOPE_TASK_DIR names a folder that serves as the broker (kombu's
# filesystem transport): `make demo` runs a real Celery worker on it beside the web process,
# so an upload or a form returns at once and scoring runs with the production code path
# (acks, retries, chunks, the sweeper). Neither set: tasks run in the calling process.
CREDSCOPE_TASK_DIR = env.str("CREDSCOPE_TASK_DIR", default="")
# Both folder and in-memory transports name a host, so kombu does not warn "No hostname was
# supplied" (the folder worker's log is the demo's).
CELERY_BROKER_URL = REDIS_URL or (
    "filesystem://localhost/" if CREDSCOPE_TASK_DIR else "memory://localhost/"
)
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or CREDSCOPE_TASK_DIR)
CELERY_TASK_EAGER_PROPAGATES = True
# Work that must not be lost: acknowledge only after the task ran, give the task back when a
# worker dies mid-task, and let each worker process hold one task at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks a worker's database connection serves before Celery closes it anyway; in between it
# is closed as Django closes a request's (CONN_MAX_AGE, errors): see credscope_site.celery.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
# A task unacknowledged this long is handed to another worker; longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 3600}
if CREDSCOPE_TASK_DIR and not REDIS_URL:
    _task_dir = Path(CREDSCOPE_TASK_DIR).resolve()
    (_task_dir / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # One folder both ways: the web process writes messages, the worker reads them.
        "data_folder_in": str(_task_dir / "queue"),
        "data_folder_out": str(_task_dir / "queue"),
        "store_processed": False,
        # The exchange tables, which would otherwise land in the working directory.
        "control_folder": str(_task_dir / "control"),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "audit-checkpoint": {
        "task": "audits.tasks.write_audit_checkpoint",
        "schedule": env.int("CREDSCOPE_AUDIT_CHECKPOINT_INTERVAL", default=300),
    },
    # Failed sign-ins are counted per window; this reports the rest of each closed window.
    "close-failed-sign-in-windows": {
        "task": "audits.tasks.close_failed_sign_in_windows",
        "schedule": 60,
    },
    "verify-audit-trail-nightly": {
        "task": "audits.tasks.verify_audit_trail",
        "schedule": 24 * 3600,
    },
    # The sweeper: re-enqueue applications left SUBMITTED (a broker outage at submit) or held
    # by a dead worker's SCORING claim (see scoring.sweeper.stuck_applications_requeue).
    "requeue-stuck-applications": {
        "task": "scoring.tasks.requeue_stuck_applications",
        "schedule": env.int("CREDSCOPE_SWEEP_INTERVAL", default=30),
    },
    # Drift of the active model over the past week's live decisions, stored for the pages:
    # Mondays at 04:00 (the oversight page can also compute one on demand).
    "drift-weekly": {
        "task": "scoring.tasks.compute_weekly_drift",
        "schedule": crontab(minute=0, hour=4, day_of_week=1),
    },
    # A fair-lending audit of the previous calendar month, on the 1st at 03:00.
    "fairness-audit-monthly": {
        "task": "audits.tasks.run_monthly_fairness_audit",
        "schedule": crontab(minute=0, hour=3, day_of_month=1),
    },
}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "credscope",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# How many reverse proxies of ours stand in front of the app, each appending to
# X-Forwarded-For. 0 (reached directly): the header is the client's claim and is ignored.
# The compose file puts one (nginx) in front: NUM_PROXIES=1 there. Never more than the real
# number, or clients choose their own address and walk past throttles and lockouts.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    raise ConfigurationError("NUM_PROXIES must be 0 or more (reverse proxies in front)")

# Brute force (django-axes): lock a username, and separately an address, after this many
# failed sign-ins, whichever door they came through; the lock lifts after the cool-off, which
# runs from the lockout (more tries while locked do not count). Kept in the database, so a
# Redis outage cannot open it.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "credscope_site.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "credscope_site.lockout.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
# axes keeps no copy of what was typed: no query strings or form bodies in its records.
AXES_SENSITIVE_PARAMETERS = ["password", "username", "ip_address"]

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "credscope_site.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["credscope_site.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "credscope_site.schema.CredScopeAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "credscope_site.throttling.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "credscope_site.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "credscope_site.throttling.UserThrottle",
        "credscope_site.throttling.AnonymousThrottle",
    ],
    # Per user (per IP for anonymous callers and for token requests), counted in the cache.
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "token": env.str("API_THROTTLE_TOKEN", default="20/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": NUM_PROXIES,
}
# API tokens (django-rest-knox): only a SHA-512 digest is stored; each token expires.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CredScope API",
    "DESCRIPTION": (
        "Explainable credit decisions. Authenticate with POST /api/v1/auth/token/ and send "
        "`Authorization: Token <token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The Swagger UI's files come from drf-spectacular-sidecar, served here: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"YesNoEnum": ["N", "Y"]},
}

# Four eyes: overrides of decisions with a probability of default at or above this need a
# senior credit reviewer (as do those turning a model REJECT into APPROVE).
CREDSCOPE_SENIOR_OVERRIDE_PD = env.float("CREDSCOPE_SENIOR_OVERRIDE_PD", default=0.20)
if not 0 < CREDSCOPE_SENIOR_OVERRIDE_PD <= 1:
    raise ConfigurationError("CREDSCOPE_SENIOR_OVERRIDE_PD must be a probability in (0, 1]")

# Fair-lending audits (scoring/ml/fairness.py). Each protected attribute names its source column
# in the decision frame (audits.selectors); `reference` pins the reference group (None: the
# most favoured). Groups under `min_count` decisions are "too few to judge".
CREDSCOPE_FAIRNESS = {
    "min_count": env.int("CREDSCOPE_FAIRNESS_MIN_COUNT", default=30),
    "ratio": 0.8,  # the four-fifths rule
    "alpha": 0.05,
    "exact_test_below": 2000,  # Fisher's exact test below this many decisions, z-test above
    "attributes": {
        "CODE_GENDER": {
            "label": "Gender",
            "source": "code_gender",
            "reference": None,
            "value_labels": {"F": "Female", "M": "Male", "XNA": "Not stated"},
        },
        "AGE_BAND": {
            "label": "Age band",
            "source": "age_years",
            "bands": [25, 35, 45, 62],
            "reference": None,
        },
        "NAME_FAMILY_STATUS": {
            "label": "Family status",
            "source": "family_status",
            "reference": None,
        },
    },
}

# Scoring. Retries are for transient errors only (database or broker hiccups).
CREDSCOPE_SCORING_MAX_RETRIES = env.int("CREDSCOPE_SCORING_MAX_RETRIES", default=5)
CREDSCOPE_SCORING_RETRY_BACKOFF = env.int("CREDSCOPE_SCORING_RETRY_BACKOFF", default=2)
CREDSCOPE_SCORING_RETRY_BACKOFF_MAX = env.int("CREDSCOPE_SCORING_RETRY_BACKOFF_MAX", default=120)
# The challenger's shadow scoring runs on its own queue, served by its own (low-priority)
# worker, so it never waits in line before a champion decision (docker-compose.yml).
CREDSCOPE_CHALLENGER_QUEUE = env.str("CREDSCOPE_CHALLENGER_QUEUE", default="challenger")
# How many decisions one challenger task scores at once (one feature build, one SHAP pass).
CREDSCOPE_CHALLENGER_CHUNK = env.int("CREDSCOPE_CHALLENGER_CHUNK", default=200)
# Seconds a challenger task waits before it runs, so that one task scores a burst in bulk.
CREDSCOPE_CHALLENGER_DELAY = env.float("CREDSCOPE_CHALLENGER_DELAY", default=2.0)
# A SCORING claim is a lease its worker renews every CREDSCOPE_SCORING_LEASE_RENEW seconds
# while scoring (scoring/lease.py); one not renewed for CREDSCOPE_SCORING_CLAIM_TIMEOUT
# belongs to a dead worker, and the sweeper (every CREDSCOPE_SWEEP_INTERVAL) frees it. With
# the defaults a dead worker's applications are back in the queue within 45 + 30 s.
CREDSCOPE_SCORING_CLAIM_TIMEOUT = env.int("CREDSCOPE_SCORING_CLAIM_TIMEOUT", default=45)
CREDSCOPE_SCORING_LEASE_RENEW = env.float(
    "CREDSCOPE_SCORING_LEASE_RENEW", default=CREDSCOPE_SCORING_CLAIM_TIMEOUT / 3
)
if not 0 < CREDSCOPE_SCORING_LEASE_RENEW <= CREDSCOPE_SCORING_CLAIM_TIMEOUT / 2:
    raise ConfigurationError(
        "CREDSCOPE_SCORING_LEASE_RENEW must be positive and at most half of "
        "CREDSCOPE_SCORING_CLAIM_TIMEOUT (a live worker must renew before its lease ends)"
    )
# The sweeper re-enqueues applications left SUBMITTED for longer than this (seconds).
CREDSCOPE_SWEEP_SUBMITTED_AFTER = env.int("CREDSCOPE_SWEEP_SUBMITTED_AFTER", default=60)
# Test-only: a Redis key on which scoring waits right after its claim (see scoring.tasks).
CREDSCOPE_SCORING_TEST_GATE = env.str("CREDSCOPE_SCORING_TEST_GATE", default="")
CREDSCOPE_SCORING_TEST_GATE_TIMEOUT = env.int("CREDSCOPE_SCORING_TEST_GATE_TIMEOUT", default=120)
# Web and worker processes load the active model when they start (see scoring.registry).
CREDSCOPE_WARM_START = env.bool("CREDSCOPE_WARM_START", default=True)
# An activation is announced to every web and worker process on Redis first; it waits up to
# this long for each to say it has loaded the version, so none serves it cold.
CREDSCOPE_ACTIVATION_WARM_TIMEOUT = env.float("CREDSCOPE_ACTIVATION_WARM_TIMEOUT", default=30.0)
# The Redis channel of those announcements; empty: one per Redis database number.
CREDSCOPE_ACTIVATION_CHANNEL = env.str("CREDSCOPE_ACTIVATION_CHANNEL", default="")
# CSV batches: limits of one upload, and how many rows one chunk task saves and scores (the
# upload cuts its valid rows into ranges of this size; the web and the workers read it).
CREDSCOPE_BATCH_MAX_BYTES = env.int("CREDSCOPE_BATCH_MAX_BYTES", default=32 * 1024 * 1024)
CREDSCOPE_BATCH_MAX_ROWS = env.int("CREDSCOPE_BATCH_MAX_ROWS", default=20_000)
CREDSCOPE_BATCH_CHUNK_SIZE = env.int("CREDSCOPE_BATCH_CHUNK_SIZE", default=500)
# A batch row whose SK_ID_CURR was already submitted within this many days gets a warning.
CREDSCOPE_RESUBMISSION_DAYS = env.int("CREDSCOPE_RESUBMISSION_DAYS", default=30)
# Uploads above Django's default in-memory limit go to a temporary file, not into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# The largest JSON body the API reads (an application with inline history is far below);
# larger ones get a JSON 413 before they are read. Django's own limit on form bodies agrees.
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_JSON_BYTES

# `/metrics` answers the loopback address, or a scraper sending this bearer token.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "credscope_site.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        # One JSON object per line, for a log shipper (production's default).
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives "django" its own console handler and lets it propagate
        # to the root's too, so every django.* line (a 404's "Not Found", ...) showed twice.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # With no broker, tasks run in the caller: Celery's per-task "succeeded in" line would
        # flood the console of a seeding command or a batch upload. Workers keep it.
        "celery.app.trace": {"level": "INFO" if REDIS_URL else "WARNING"},
        # WeasyPrint logs every rendering step at INFO (ten lines a notice); its warnings stay.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- adverse-action notices (issue 11) -----------------------------------------------------------
# The creditor named on every notice of a declined application, with the statement the law
# requires (ECOA / Regulation B, 12 CFR 1002.9). Set them for your institution; the defaults
# name the demo.
CREDSCOPE_CREDITOR_NAME = env.str("CREDSCOPE_CREDITOR_NAME", default="CredScope Demo Bank")
CREDSCOPE_CREDITOR_ADDRESS = env.str(
    "CREDSCOPE_CREDITOR_ADDRESS", default="1 Example Street, Springfield, 00000"
)
CREDSCOPE_CREDITOR_STATEMENT = env.str(
    "CREDSCOPE_CREDITOR_STATEMENT",
    default=(
        "The federal Equal Credit Opportunity Act prohibits creditors from discriminating "
        "against credit applicants on the basis of race, color, religion, national origin, "
        "sex, marital status, age (provided the applicant has the capacity to enter into a "
        "binding contract); because all or part of the applicant's income derives from any "
        "public assistance program; or because the applicant has in good faith exercised any "
        "right under the Consumer Credit Protection Act. The federal agency that administers "
        "compliance with this law concerning this creditor is the Consumer Financial "
        "Protection Bureau, 1700 G Street NW, Washington, DC 20552."
    ),
)
