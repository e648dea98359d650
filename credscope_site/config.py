"""Reading configuration from the environment, failing with one clear line.

Settings modules call these helpers; `manage.py`, `wsgi.py` and `celery.py` catch
`ConfigurationError` and print its message alone, so a bad environment never shows a traceback.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import NoReturn

import environ

SUPPORTED_DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


class ConfigurationError(Exception):
    """The environment cannot start CredScope; the message says which variable and why."""


def database_from_url(url: str) -> dict:
    """Django's DATABASES entry for `url`, or ConfigurationError naming the problem.

    The URL itself is never echoed: it may hold a password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ConfigurationError(
            "DATABASE_URL is malformed: expected postgres://USER[:PASSWORD]@HOST[:PORT]/NAME "
            "or sqlite:////absolute/path.sqlite3"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ConfigurationError(f"DATABASE_URL is malformed: {exc.__class__.__name__}") from None
    if not config.get("NAME"):
        raise ConfigurationError("DATABASE_URL is malformed: it names no database")
    if scheme != "sqlite":
        if not config.get("HOST") and not rest.startswith("/"):
            raise ConfigurationError("DATABASE_URL is malformed: it names no host")
        port = config.get("PORT")
        if port not in (None, "") and not str(port).isdigit():
            raise ConfigurationError("DATABASE_URL is malformed: the port is not a number")
    return config


# The placeholder in .env.example: a copy of the example must never reach production as is.
PLACEHOLDER_SECRET_KEY = "change-me-to-a-long-random-string"  # noqa: S105 - refused, not used
MIN_SECRET_KEY_LENGTH = 50
_GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"


def production_secret_key(value: str) -> str:
    """`value` if it may sign production sessions, or ConfigurationError saying why.

    The key itself is never echoed."""
    if value.strip() == PLACEHOLDER_SECRET_KEY:
        raise ConfigurationError(
            f"SECRET_KEY is the placeholder from .env.example: generate one with {_GENERATE}"
        )
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"SECRET_KEY is {len(value)} characters; production needs at least "
            f"{MIN_SECRET_KEY_LENGTH} ({_GENERATE})"
        )
    return value


def development_secret_key(var_dir: Path) -> str:
    """A random key generated once into var/ so development sessions survive restarts."""
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def exit_on_configuration_error(error: ConfigurationError) -> NoReturn:
    """Print the one line a person needs and stop with status 2."""
    print(f"credscope: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2)
