"""A fair-lending audit over N stored decisions (default 100,000); prints one JSON object.

Uses a PostgreSQL database of its own (default `credscope_bench_fairness`, created and
migrated if needed) and fills it once with N decisions across genders, age bands and family
statuses, with overrides and recorded outcomes. Then times, `--repeat` times, what the Celery
task does: the bulk read of the decisions (`audits.selectors.fairness_decision_frame`) and
the computation of every figure (`audits.fairness_services.audit_snapshot`). Target: <= 10 s.

    .venv/bin/python bench/bench_fairness.py [--decisions 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def prepare_database(database_url: str) -> None:
    import psycopg

    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    log(f"migrating {name}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, check=True
    )


def fill(target: int) -> None:
    from django.contrib.auth import get_user_model

    from scoring.models import Decision
    from tests.audits.fairness_support import Cohort, make_decisions

    present = Decision.objects.count()
    if present >= target:
        return
    officer, _ = get_user_model().objects.get_or_create(username="bench-officer")
    # 40 cohorts of the attribute combinations, each with its own approval rate.
    combos = [
        (gender, days, family)
        for gender in ("F", "M")
        for days in (-22 * 365, -30 * 365, -40 * 365, -50 * 365, -65 * 365)
        for family in ("Married", "Single / not married", "Civil marriage", "Widow")
    ]
    per = (target - present) // len(combos) + 1
    log(f"writing {per * len(combos):,} decisions")
    for index, (gender, days, family) in enumerate(combos):
        approved = int(per * (0.35 + 0.03 * (index % 8)))
        referred = int(per * 0.2)
        make_decisions(
            officer=officer,
            cohorts=[
                Cohort(
                    per,
                    approved,
                    gender=gender,
                    days_birth=days,
                    family_status=family,
                    referred=referred,
                    overridden_up=referred // 3,
                    overridden_down=referred // 4,
                    record_outcomes=True,
                    defaulted=range(0, per, 11 + index % 5),
                )
            ],
            seed=index,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/credscope_bench_fairness"
        ),
    )
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "credscope_site.settings.local",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    prepare_database(args.database_url)
    import django

    django.setup()
    from django.utils import timezone

    from audits import fairness_services, selectors
    from audits.models import FairnessAudit

    fill(args.decisions)
    # Fresh bulk-written tables have no planner statistics until autovacuum gets to them:
    # the planner then guesses a few hundred rows and joins 100,000 by nested loops (3 s
    # instead of 1). A production database is analyzed; so is this one before timing.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    today = timezone.localdate()
    audit = FairnessAudit(date_from=today.replace(year=today.year - 5), date_to=today)
    audit.attributes = [spec.name for spec in fairness_services.attribute_specs()]
    reads, totals, decisions = [], [], 0
    for run in range(args.repeat):
        started = time.perf_counter()
        frame = selectors.fairness_decision_frame(date_from=audit.date_from, date_to=audit.date_to)
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        snapshot = fairness_services.audit_snapshot(audit)
        totals.append(time.perf_counter() - started)
        decisions = snapshot["figures"]["totals"]["decisions"]
        log(f"run {run + 1}: read {reads[-1]:.2f} s, whole audit {totals[-1]:.2f} s")
    median = statistics.median(totals)
    print(
        json.dumps(
            {
                "bench": "fairness_audit",
                "decisions": decisions,
                "frame_rows": len(frame),
                "attributes": audit.attributes,
                "read_median_s": round(statistics.median(reads), 3),
                "audit_median_s": round(median, 3),
                "runs_s": [round(t, 3) for t in totals],
                "target_s": TARGET_S,
                "meets_target": median <= TARGET_S,
                "cpu_count": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
