"""The audit trail's costs on PostgreSQL; prints one JSON object.

In a database of its own (default `credscope_bench_audit`, created and migrated if needed;
its audit table is emptied first), measures:

- `append_ms`: one `trail.record()` in its own transaction (HMAC chain, advisory lock), p50/p99;
- `append_many_us_per_event`: `trail.record_many()` of 500 events, per event (median of runs);
- `verify_events_per_s`: `trail.verify()` over `--events` events plus one checkpoint (median
  of 3 runs);
- `failed_sign_in_ms`: one counted failed sign-in (`failed_sign_in_record`), p50, with the
  number of audit events 1,000 attempts in one window added.

    .venv/bin/python bench/bench_audit.py [--events 20000] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def prepare(url: str) -> None:
    import psycopg

    admin, _, name = url.rpartition("/")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true"}
    env.pop("REDIS_URL", None)
    log("migrating")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/credscope_bench_audit"
    )
    args = parser.parse_args()
    prepare(args.database_url)
    os.environ.update(
        DATABASE_URL=args.database_url,
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="credscope_site.settings.local",
        CREDSCOPE_AUDIT_CHECKPOINT_DIR=tempfile.mkdtemp(prefix="credscope-bench-"),
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from audits import auth_events, checkpoints, trail
    from audits.actions import AuditAction
    from audits.models import AuditEvent, FailedSignInWindow

    with connection.cursor() as cursor:  # a superuser emptying its own bench database
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("TRUNCATE audits_auditevent, audits_failedsigninwindow")
        cursor.execute("SET session_replication_role = origin")

    log("single appends")
    single = []
    for i in range(500):
        start = time.perf_counter()
        trail.record(action=AuditAction.APPLICATION_SUBMITTED, target_id=i, payload={"i": i})
        single.append((time.perf_counter() - start) * 1000)

    log("batched appends")
    per_event = []
    batch = [{"action": AuditAction.APPLICATION_DECIDED, "payload": {"n": n}} for n in range(500)]
    while AuditEvent.objects.count() < args.events:
        start = time.perf_counter()
        trail.record_many(batch)
        per_event.append((time.perf_counter() - start) * 1e6 / len(batch))
    checkpoints.checkpoint_write(force=True)

    log("verify")
    total = AuditEvent.objects.count()
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        result = trail.verify()
        rates.append(total / (time.perf_counter() - start))
        assert result.intact, result.verdict

    log("failed sign-ins")
    before = AuditEvent.objects.count()
    at = timezone.now().replace(second=1)
    failed = []
    for _ in range(1000):
        start = time.perf_counter()
        auth_events.failed_sign_in_record(username="bench", address="10.9.8.7", at=at)
        failed.append((time.perf_counter() - start) * 1000)
    FailedSignInWindow.objects.all().delete()

    print(
        json.dumps(
            {
                "events": total,
                "append_ms": {"p50": round(percentile(single, 50), 3),
                              "p99": round(percentile(single, 99), 3)},
                "append_many_us_per_event": round(statistics.median(per_event), 1),
                "verify_events_per_s": round(statistics.median(rates)),
                "failed_sign_in_ms_p50": round(percentile(failed, 50), 3),
                "audit_events_for_1000_failed_sign_ins": AuditEvent.objects.count() - before,
            }
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
