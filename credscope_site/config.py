"""Reading configuration from the environment, failing with one clear line.

Settings modules call these helpers; `manage.py`, `wsgi.py` and `celery.py` catch
`ConfigurationError` and print its message alone, so a bad environment never shows a traceback.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from pathlib import Path
from typing import NoReturn

import environ

SUPPORTED_DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


class ConfigurationError(Exception):
    """The environment cannot start CredScope; the message says which variable and why."""


def database_from_url(url: str, variable: str = "DATABASE_URL") -> dict:
    """Django's DATABASES entry for `url`, or ConfigurationError naming the problem.

    The URL itself is never echoed: it may hold a password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ConfigurationError(
            f"{variable} is malformed: expected postgres://USER[:PASSWORD]@HOST[:PORT]/NAME "
            "or sqlite:////absolute/path.sqlite3"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ConfigurationError(f"{variable} is malformed: {exc.__class__.__name__}") from None
    if not config.get("NAME"):
        raise ConfigurationError(f"{variable} is malformed: it names no database")
    if scheme != "sqlite":
        if not config.get("HOST") and not rest.startswith("/"):
            raise ConfigurationError(f"{variable} is malformed: it names no host")
        port = config.get("PORT")
        if port not in (None, "") and not str(port).isdigit():
            raise ConfigurationError(f"{variable} is malformed: the port is not a number")
    return config


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


# --- the audit chain's keys -------------------------------------------------------------------

#: A key with a chosen id is written `ID:SECRET`; the id names it in every event it signs.
_KEY_ID_SEPARATOR = ":"
AUDIT_KEY_MIN_LENGTH = 32


def audit_chain_keys(signing: str, retired: str = "") -> tuple[dict[str, bytes], str]:
    """The audit chain's keys by id, and the id of the one that signs new events.

    `signing` is AUDIT_CHAIN_KEY; `retired` (AUDIT_CHAIN_RETIRED_KEYS, comma-separated) holds
    older keys kept only to verify the events they signed. Each is `SECRET` or `ID:SECRET`; a
    bare secret's id is a short fingerprint of it, so the id never reveals the secret.
    """
    keys: dict[str, bytes] = {}
    signing_id = ""
    entries = [("AUDIT_CHAIN_KEY", signing.strip())] + [
        ("AUDIT_CHAIN_RETIRED_KEYS", item.strip()) for item in retired.split(",") if item.strip()
    ]
    for variable, entry in entries:
        key_id, secret = _split_key(variable, entry)
        if key_id in keys and keys[key_id] != secret:
            raise ConfigurationError(f"{variable}: key id {key_id!r} is used for two keys")
        keys[key_id] = secret
        signing_id = signing_id or key_id
    return keys, signing_id


def _split_key(variable: str, entry: str) -> tuple[str, bytes]:
    key_id, sep, secret = entry.partition(_KEY_ID_SEPARATOR)
    if not sep:
        key_id, secret = "", entry
    if len(secret) < AUDIT_KEY_MIN_LENGTH:
        raise ConfigurationError(
            f"{variable} is too short: use at least {AUDIT_KEY_MIN_LENGTH} random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    if sep and not (0 < len(key_id) <= 32 and key_id.replace("-", "").replace(".", "").isalnum()):
        raise ConfigurationError(
            f"{variable}: a key id (before ':') is 1-32 letters, digits, '-' or '.'"
        )
    if not key_id:
        key_id = "k" + hashlib.sha256(secret.encode()).hexdigest()[:10]
    return key_id, secret.encode()


def development_audit_chain_key(var_dir: Path) -> str:
    """Like the development secret key: generated once into var/, never into the database."""
    key_file = var_dir / "audit_chain_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
