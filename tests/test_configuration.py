"""A bad environment stops every entry point with one clear line, never a traceback."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    base.pop("SECRET_KEY", None)
    base.pop("AUDIT_CHAIN_KEY", None)
    base.pop("DEBUG", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"credscope: configuration error: {expected}"]


@pytest.mark.parametrize(
    "url",
    ["not-a-url", "mysql://root@localhost/credscope", "postgres://postgres@localhost:notaport/x"],
)
def test_malformed_database_url_stops_manage_py_with_one_line(url: str) -> None:
    result = run(["manage.py", "check"], DATABASE_URL=url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("credscope: configuration error: DATABASE_URL is malformed")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "root@" not in result.stderr  # the URL, which may hold a password, is never echoed


def test_debug_off_without_secret_key_stops_manage_py() -> None:
    result = run(["manage.py", "check"], DEBUG="false")
    assert_one_clear_line(result, "SECRET_KEY must be set when DEBUG is off")


def test_debug_off_without_secret_key_stops_the_wsgi_app() -> None:
    result = run(
        ["-c", "import credscope_site.wsgi"],
        DJANGO_SETTINGS_MODULE="credscope_site.settings.production",
        ALLOWED_HOSTS="credscope.example.com",
    )
    assert_one_clear_line(result, "SECRET_KEY must be set when DEBUG is off")


def test_bad_database_url_stops_a_celery_worker_start() -> None:
    result = run(["-m", "celery", "-A", "credscope_site", "report"], DATABASE_URL="nonsense")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL is malformed" in result.stderr


def test_a_flag_that_is_not_a_boolean_is_refused() -> None:
    result = run(["manage.py", "check"], DEBUG="maybe")
    assert_one_clear_line(result, "DEBUG must be true or false (got 'maybe')")


def test_production_settings_pass_check_deploy_without_warnings(tmp_path) -> None:
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SETTINGS_MODULE="credscope_site.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="credscope.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_secret_key_is_generated_once_and_kept(tmp_path) -> None:
    from credscope_site.config import development_secret_key

    first = development_secret_key(tmp_path)
    assert len(first) >= 50
    assert development_secret_key(tmp_path) == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_production_without_an_audit_chain_key_stops_with_one_line() -> None:
    result = run(
        ["manage.py", "check"],
        DJANGO_SETTINGS_MODULE="credscope_site.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="credscope.example.com",
    )
    assert_one_clear_line(
        result,
        "AUDIT_CHAIN_KEY must be set when DEBUG is off "
        '(python -c "import secrets; print(secrets.token_urlsafe(48))")',
    )


def test_a_short_audit_chain_key_is_refused() -> None:
    result = run(["manage.py", "check"], AUDIT_CHAIN_KEY="hunter2")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "credscope: configuration error: AUDIT_CHAIN_KEY is too short: use at least 32"
    )
    assert "hunter2" not in result.stderr  # the secret is never echoed


def test_audit_chain_keys_name_the_signing_key_and_keep_retired_ones(tmp_path) -> None:
    from credscope_site.config import (
        ConfigurationError,
        audit_chain_keys,
        development_audit_chain_key,
    )

    new, old = "n" * 40, "o" * 40
    keys, signing = audit_chain_keys(f"2027-01:{new}", f"{old}, 2025.q3:{'p' * 32}")
    assert signing == "2027-01" and keys["2027-01"] == new.encode()
    assert len(keys) == 3 and keys["2025.q3"] == b"p" * 32
    fingerprint_id = next(k for k in keys if k not in ("2027-01", "2025.q3"))
    assert fingerprint_id.startswith("k") and old not in fingerprint_id
    with pytest.raises(ConfigurationError, match="key id '2027-01' is used for two keys"):
        audit_chain_keys(f"2027-01:{new}", f"2027-01:{old}")
    with pytest.raises(ConfigurationError, match="a key id"):
        audit_chain_keys(f"bad id!:{new}")
    generated = development_audit_chain_key(tmp_path)
    assert len(generated) >= 48 and development_audit_chain_key(tmp_path) == generated
    assert oct((tmp_path / "audit_chain_key").stat().st_mode)[-3:] == "600"


def test_a_migration_url_for_another_database_is_refused() -> None:
    result = run(
        ["manage.py", "check"],
        DATABASE_URL="postgres://credscope_app:a@127.0.0.1:5432/credscope",
        DATABASE_URL_MIGRATE="postgres://credscope_owner:b@127.0.0.1:5432/elsewhere",
    )
    assert_one_clear_line(
        result,
        "DATABASE_URL_MIGRATE must name the same database as DATABASE_URL "
        "(only the user and password differ)",
    )
    malformed = run(["manage.py", "check"], DATABASE_URL_MIGRATE="nonsense")
    assert malformed.stderr.startswith(
        "credscope: configuration error: DATABASE_URL_MIGRATE is malformed"
    )


def test_production_logs_are_json_lines_with_the_request_id(tmp_path) -> None:
    code = (
        "import django, logging; django.setup();"
        "from credscope_site import middleware;"
        "middleware._current_request_id.set('abc123');"
        "logging.getLogger('scoring.decide').warning('decided %s', 7)"
    )
    result = run(
        ["-c", code],
        DJANGO_SETTINGS_MODULE="credscope_site.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="credscope.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'log.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "decided 7" and line["request_id"] == "abc123"
    assert line["level"] == "WARNING" and line["logger"] == "scoring.decide"


def test_each_parallel_test_process_has_a_redis_database_of_its_own() -> None:
    """`make test` runs two pytest-xdist processes: each takes the next Redis database after
    the one configured, and a process it starts (a worker) keeps its parent's."""
    show = [
        "-c",
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'credscope_site.settings.test'; "
        "from django.conf import settings; print(settings.REDIS_URL, settings.CELERY_BROKER_URL)",
    ]
    clean = {"CREDSCOPE_TEST_REDIS_PER_WORKER": ""}
    url = "redis://127.0.0.1:6379/3"
    first = run(show, REDIS_URL=url, PYTEST_XDIST_WORKER="gw0", **clean)
    second = run(show, REDIS_URL=url, PYTEST_XDIST_WORKER="gw1", **clean)
    alone = run(show, REDIS_URL=url, PYTEST_XDIST_WORKER="", **clean)
    assert first.stdout.split() == ["redis://127.0.0.1:6379/4"] * 2, first.stderr
    assert second.stdout.split() == ["redis://127.0.0.1:6379/5"] * 2, second.stderr
    assert alone.stdout.split() == [url] * 2, alone.stderr
    inherited = run(
        show,
        REDIS_URL="redis://127.0.0.1:6379/5",
        PYTEST_XDIST_WORKER="gw1",
        CREDSCOPE_TEST_REDIS_PER_WORKER="1",
    )
    assert inherited.stdout.split() == ["redis://127.0.0.1:6379/5"] * 2, inherited.stderr
