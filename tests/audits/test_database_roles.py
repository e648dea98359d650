"""The database refuses, on a database set up as deploy/postgres/roles.sql sets up production.

A fresh database is created with the owner and runtime roles, migrated as the owner through
DATABASE_URL_MIGRATE, then used as the runtime role: it appends and reads the trail and can do
nothing else to it. An insider holding the owner role can change the table, and
`verify_audit_trail` names what they did.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import REPO_ROOT, missing

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "roles-test-password"


@dataclass(frozen=True)
class RoleDatabase:
    name: str
    owner_url: str
    app_url: str
    admin_url: str

    def manage(self, *args: str, checkpoints: Path) -> subprocess.CompletedProcess:
        """manage.py as production runs it: connected as the runtime role."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
        env.update(
            DATABASE_URL=self.app_url,
            DEBUG="true",
            CREDSCOPE_AUDIT_CHECKPOINT_DIR=str(checkpoints),
        )
        env.pop("DATABASE_URL_MIGRATE", None)
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip


def _url(user: str, password: str | None, db: str) -> str:
    cfg = connection.settings_dict
    auth = user + (f":{password}" if password else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{db}"


@pytest.fixture(scope="module")
def role_database(django_db_blocker) -> Iterator[RoleDatabase]:
    with django_db_blocker.unblock():
        cfg = connection.settings_dict
        if cfg["ENGINE"] != "django.db.backends.postgresql":
            missing("needs PostgreSQL: run with DATABASE_URL=postgres://...")
        base = f"{cfg['NAME']}_roles"
        owner, app = f"{base}_owner", f"{base}_app"
        admin_url = _url(cfg["USER"], cfg["PASSWORD"], "postgres")
    psql = [
        "psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-v", f"owner={owner}",
        "-v", f"owner_password={PASSWORD}", "-v", f"app={app}", "-v", f"app_password={PASSWORD}",
        "-v", f"db={base}",
    ]  # fmt: skip
    _drop(admin_url, base, owner, app)
    created = subprocess.run(
        [*psql, "-f", str(REPO_ROOT / "deploy" / "postgres" / "roles.sql")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    database = RoleDatabase(
        name=base,
        owner_url=_url(owner, PASSWORD, base),
        app_url=_url(app, PASSWORD, base),
        admin_url=admin_url,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
    env.update(DATABASE_URL=database.app_url, DATABASE_URL_MIGRATE=database.owner_url)
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"Migrating as the owner role '{owner}'" in migrated.stdout
    try:
        yield database
    finally:
        _drop(admin_url, base, owner, app)


def _drop(admin_url: str, db: str, *roles: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for role in roles:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def fresh_chain(db: RoleDatabase, checkpoints: Path, events: int) -> None:
    """Empty the trail (as the owner, triggers off), then record `events` as the app would
    and write a checkpoint."""
    with psycopg.connect(db.owner_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audits_auditevent DISABLE TRIGGER USER")
        conn.execute("TRUNCATE audits_auditevent")
        conn.execute("ALTER TABLE audits_auditevent ENABLE TRIGGER USER")
    script = (
        "from audits import trail; from audits.actions import AuditAction\n"
        f"for i in range({events}):\n"
        "    trail.record(action=AuditAction.APPLICATION_DECIDED, target_type="
        "'applicants.loanapplication', target_id=i, payload={'outcome': 'APPROVE'})"
    )
    recorded = db.manage("shell", "-c", script, checkpoints=checkpoints)
    assert recorded.returncode == 0, recorded.stderr
    # Without the system checks here (they import every URLconf, seconds a command, twice a
    # test): this only sets the chain up. The commands the tests assert on still run them.
    written = db.manage("audit_checkpoint", "--skip-checks", checkpoints=checkpoints)
    assert written.returncode == 0 and "checkpoint 1" in written.stdout, written.stderr
    intact = db.manage("verify_audit_trail", "--skip-checks", checkpoints=checkpoints)
    assert intact.returncode == 0 and f"intact: {events} event(s)" in intact.stdout


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("TRUNCATE audits_auditevent", "permission denied for table audits_auditevent"),
        ("UPDATE audits_auditevent SET actor_name = 'mallory'", "permission denied"),
        ("DELETE FROM audits_auditevent", "permission denied for table audits_auditevent"),
        ("SET session_replication_role = replica", "permission denied to set parameter"),
        ("ALTER TABLE audits_auditevent DISABLE TRIGGER USER", "must be owner"),
        ("TRUNCATE auth_user CASCADE", "permission denied"),
    ],
)
def test_the_runtime_role_cannot_change_the_trail(
    role_database: RoleDatabase, tmp_path: Path, statement: str, refusal: str
) -> None:
    fresh_chain(role_database, tmp_path, events=3)
    with psycopg.connect(role_database.app_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audits_auditevent").fetchone() == (3,)
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False)


def test_the_runtime_role_appends_a_batch_of_events_by_copy(
    role_database: RoleDatabase, tmp_path: Path
) -> None:
    """A batch's events go in through COPY (credscope_site.bulk) with keys from the table's
    sequence: the runtime role may do that, and the chain it writes verifies."""
    fresh_chain(role_database, tmp_path, events=2)
    script = (
        "from audits import trail; from audits.actions import AuditAction\n"
        "trail.record_many([{'action': AuditAction.APPLICATION_SUBMITTED, 'target_type': "
        "'applicants.loanapplication', 'target_id': i, 'payload': {'batch_row': i}} "
        "for i in range(1, 251)])"
    )
    recorded = role_database.manage("shell", "-c", script, checkpoints=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    intact = role_database.manage("verify_audit_trail", checkpoints=tmp_path)
    assert intact.returncode == 0 and "intact: 252 event(s)" in intact.stdout, intact.stderr


def test_the_owner_is_stopped_by_the_triggers_until_they_disable_them(
    role_database: RoleDatabase, tmp_path: Path
) -> None:
    fresh_chain(role_database, tmp_path, events=2)
    with psycopg.connect(role_database.owner_url, autocommit=True) as conn:
        for statement in ("TRUNCATE audits_auditevent", "DELETE FROM audits_auditevent"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")


def _as_owner_without_triggers(db: RoleDatabase, *statements: tuple[str, list]) -> None:
    with psycopg.connect(db.owner_url) as conn:  # one transaction
        conn.execute("ALTER TABLE audits_auditevent DISABLE TRIGGER USER")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("ALTER TABLE audits_auditevent ENABLE TRIGGER USER")


def _forged_rewrite_from(db: RoleDatabase, sequence: int) -> None:
    """Change one decision to REJECT and re-link every later event with sha256 (the insider
    has the table, not the key)."""
    with psycopg.connect(db.owner_url) as conn:
        rows = conn.execute(
            "SELECT id, sequence, prev_hash, occurred_at, actor_id, actor_name, action, "
            "target_type, target_id, payload, request_id, key_id FROM audits_auditevent "
            "WHERE sequence >= %s ORDER BY sequence",
            [sequence],
        ).fetchall()
    prev = rows[0][2]
    updates = []
    for row in rows:
        (pk, seq, _, occurred_at, actor_id, actor_name, action, ttype, tid, payload, rid, kid) = row
        if seq == sequence:
            payload = {**payload, "outcome": "REJECT"}
        content = {
            "sequence": seq, "occurred_at": occurred_at.astimezone(UTC).isoformat(
                timespec="microseconds"),
            "actor_id": actor_id, "actor_name": actor_name, "action": action,
            "target_type": ttype, "target_id": tid, "payload": payload, "request_id": rid,
            "key_id": kid,
        }  # fmt: skip
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
        updates.append(
            (
                "UPDATE audits_auditevent SET payload = %s, prev_hash = %s, hash = %s "
                "WHERE id = %s",
                [json.dumps(payload), prev, digest, pk],
            )
        )
        prev = digest
    # Hashes are unique: clear the old ones first so the re-linked values can be stored.
    clear = [
        ("UPDATE audits_auditevent SET hash = md5(random()::text) || md5(random()::text), "
         "prev_hash = md5(random()::text) || md5(random()::text) WHERE sequence >= %s",
         [sequence]),
    ]  # fmt: skip
    _as_owner_without_triggers(db, *clear, *updates)


@pytest.mark.parametrize(
    ("attack", "named"),
    [
        ("deleted tail", "events 41\u201345 recorded in checkpoint 1 (file "),
        ("deleted middle event", "(sequence 21): the event(s) before it are missing (sequence 20"),
        ("edited and re-hashed", "(sequence 30): its content does not match its hash"),
    ],
)
def test_an_insider_owner_is_caught_by_verify_audit_trail(
    role_database: RoleDatabase, tmp_path: Path, attack: str, named: str
) -> None:
    fresh_chain(role_database, tmp_path, events=45)
    if attack == "deleted tail":
        _as_owner_without_triggers(
            role_database, ("DELETE FROM audits_auditevent WHERE sequence >= 41", [])
        )
    elif attack == "deleted middle event":
        _as_owner_without_triggers(
            role_database, ("DELETE FROM audits_auditevent WHERE sequence = 20", [])
        )
    else:
        _forged_rewrite_from(role_database, 30)
    result = role_database.manage("verify_audit_trail", checkpoints=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "audit trail BROKEN" in result.stderr and named in result.stderr, result.stderr
