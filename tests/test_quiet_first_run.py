"""A quiet first run: each log line once, no kombu warning without a broker, no per-task flood."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

PROBE = """
import logging
import django
django.setup()
from celery import current_app
logging.getLogger("django.request").warning("probe: not found")
with current_app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=1)
print("trace-info", logging.getLogger("celery.app.trace").isEnabledFor(logging.INFO))
"""


def run_probe(**extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="credscope_site.settings.local", **extra)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )


def test_without_a_broker_the_console_stays_quiet() -> None:
    result = run_probe()
    assert result.returncode == 0, result.stderr
    # Django's own handler and the root's both printed every django.* line.
    assert result.stderr.count("probe: not found") == 1
    assert "No hostname was supplied" not in result.stderr
    assert "WARNING" not in result.stderr.replace("WARNING django.request", "")
    # Tasks run in the caller: a seeding command would print one line per application.
    assert "trace-info False" in result.stdout


def test_with_a_broker_workers_keep_their_per_task_lines() -> None:
    # Only the logging config is read; no connection to this address is made at set-up.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, django; django.setup(); "
            "print(logging.getLogger('celery.app.trace').isEnabledFor(logging.INFO))",
        ],
        cwd=REPO_ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DJANGO_SETTINGS_MODULE": "credscope_site.settings.local",
            "REDIS_URL": "redis://127.0.0.1:6379/7",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
