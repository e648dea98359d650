"""End to end on the embedded SQLite database: tamper with the file, the command names the row."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def manage(*args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    # Checkpoints of this database only (var/'s belong to the demo's database).
    checkpoints = os.path.join(os.path.dirname(db_url.removeprefix("sqlite:///")), "checkpoints")
    env.update(DATABASE_URL=db_url, DEBUG="true", CREDSCOPE_AUDIT_CHECKPOINT_DIR=checkpoints)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_verify_audit_trail_names_the_row_changed_in_the_sqlite_file(tmp_path) -> None:
    db = tmp_path / "credscope.sqlite3"
    url = f"sqlite:///{db}"
    # The system checks (seconds: they import every URLconf) run once, in the command under
    # test when it finds the change; setting the file up does without them.
    assert manage("migrate", "--noinput", "--skip-checks", db_url=url).returncode == 0
    script = (
        "from audits import trail; from audits.actions import AuditAction\n"
        "for i in range(4): trail.record(action=AuditAction.TRAIL_VERIFIED, payload={'i': i})"
    )
    assert manage("shell", "-c", script, db_url=url).returncode == 0
    intact = manage("verify_audit_trail", "--skip-checks", db_url=url)
    assert intact.returncode == 0, intact.stderr
    assert "audit trail intact: 4 event(s)" in intact.stdout

    with sqlite3.connect(db) as conn:
        event_id = conn.execute("SELECT id FROM audits_auditevent WHERE sequence = 3").fetchone()[0]
        conn.execute(
            "UPDATE audits_auditevent SET payload = '{\"i\": 42}' WHERE id = ?", [event_id]
        )

    broken = manage("verify_audit_trail", db_url=url)
    assert broken.returncode == 1
    assert f"event id={event_id} (sequence 3)" in broken.stderr
    assert "content does not match its hash" in broken.stderr
