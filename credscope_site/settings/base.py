"""Settings shared by every environment, all read from the environment (12-factor).

Environment variables (see README and .env.example):
DATABASE_URL, DATABASE_URL_MIGRATE, REDIS_URL, SECRET_KEY, AUDIT_CHAIN_KEY, DEBUG, ALLOWED_HOSTS,
CREDSCOPE_MODEL_DIR, CREDSCOPE_DATA_DIR, CREDSCOPE_AUDIT_CHECKPOINT_DIR.
A bad value raises `ConfigurationError`; the entry points turn it into one line and exit 2.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
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

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

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
    "credscope_site",
    "audits",
    "scoring",
    "applicants",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "credscope_site.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says otherwise (login, health).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Pages show times in this zone, naming it; the database stores UTC.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ConfigurationError(
        f"TIME_ZONE is not a time zone name (got {TIME_ZONE!r}; e.g. Europe/Paris)"
    ) from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
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

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Work that must not be lost: acknowledge only after the task ran, give the task back when a
# worker dies mid-task, and let each worker process hold one task at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
# A task unacknowledged this long is handed to another worker; longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
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
        "schedule": env.int("CREDSCOPE_SWEEP_INTERVAL", default=60),
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

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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

# Fair-lending audits (audits/fairness.py). Each protected attribute names its source column
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
# A SCORING claim older than this belongs to a dead task (longer than the hard time limit).
CREDSCOPE_SCORING_CLAIM_TIMEOUT = env.int(
    "CREDSCOPE_SCORING_CLAIM_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 60
)
# The sweeper re-enqueues applications left SUBMITTED for longer than this (seconds).
CREDSCOPE_SWEEP_SUBMITTED_AFTER = env.int("CREDSCOPE_SWEEP_SUBMITTED_AFTER", default=60)
# Test-only: a Redis key on which scoring waits right after its claim (see scoring.tasks).
CREDSCOPE_SCORING_TEST_GATE = env.str("CREDSCOPE_SCORING_TEST_GATE", default="")
CREDSCOPE_SCORING_TEST_GATE_TIMEOUT = env.int("CREDSCOPE_SCORING_TEST_GATE_TIMEOUT", default=120)
# CSV batches: limits of one upload, and how many rows are scored (and saved) at once.
CREDSCOPE_BATCH_MAX_BYTES = env.int("CREDSCOPE_BATCH_MAX_BYTES", default=32 * 1024 * 1024)
CREDSCOPE_BATCH_MAX_ROWS = env.int("CREDSCOPE_BATCH_MAX_ROWS", default=20_000)
CREDSCOPE_BATCH_CHUNK_SIZE = env.int("CREDSCOPE_BATCH_CHUNK_SIZE", default=500)
# Uploads above Django's default in-memory limit go to a temporary file, not into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "credscope_site.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every layout step at INFO; PDF reports only need its warnings.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
