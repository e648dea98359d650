"""Secrets (probe item 8): production refuses the placeholder key of .env.example, or any
key under 50 characters, at start-up with one clear line."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import REPO_ROOT
from tests.test_configuration import assert_one_clear_line, run

pytestmark = pytest.mark.slow

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "credscope_site.settings.production",
    "ALLOWED_HOSTS": "credscope.example.com",
    "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
}


def placeholder() -> str:
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line.startswith("SECRET_KEY="):
            return line.split("=", 1)[1]
    raise AssertionError(".env.example names no SECRET_KEY")


@pytest.mark.parametrize("entry", [["manage.py", "check"], ["-c", "import credscope_site.wsgi"]])
def test_the_placeholder_key_is_refused_at_start_up(entry) -> None:
    result = run(entry, SECRET_KEY=placeholder(), **PRODUCTION)
    assert_one_clear_line(
        result,
        "SECRET_KEY is the placeholder from .env.example: generate one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'",
    )


def test_a_short_key_is_refused_without_being_echoed() -> None:
    key = secrets.token_hex(24)  # 48 characters
    result = run(["manage.py", "check"], SECRET_KEY=key, **PRODUCTION)
    assert_one_clear_line(
        result,
        "SECRET_KEY is 48 characters; production needs at least 50 "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')",
    )
    assert key not in result.stderr


def test_a_long_random_key_starts(tmp_path) -> None:
    result = run(
        ["manage.py", "check"],
        SECRET_KEY=secrets.token_urlsafe(38),  # 51 characters
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
