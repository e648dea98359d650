"""Download time of a 20,000-row batch's results CSV; prints one JSON object.

Builds (once; re-runs reuse it) a batch of `--rows` lines in a PostgreSQL database of its own
(default `credscope_bench_results`, created and migrated if needed): decided rows whose
decisions carry realistic contributions (~9 KB of JSON each, as the ensemble stores them) and
application rows, plus 0.5% invalid lines. Then, under the production settings, downloads
`/batches/<id>/results.csv` through Django's request handler as the batch's officer,
consuming the whole stream, `--runs` times. Target: median <= 3 s for 20,000 rows.

For comparison it also times the read the CSV used before (every application with its
decision, contributions and row loaded as objects).

    .venv/bin/python bench/bench_results_csv.py [--rows 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import prepare_database, setup_django  # the sibling bench script  # noqa: E402

FEATURES = 120  # contributions stored per decision


def log(message: str) -> None:
    print(f"[bench_results_csv] {message}", file=sys.stderr, flush=True)


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.production",
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }


def seed(rows: int):
    """The bench batch: `rows` lines, 0.5% invalid, the rest decided."""
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from applicants.models import Applicant, LoanApplication
    from credscope_site.fields import bulk_batch_size
    from scoring.models import BatchJob, Decision, ModelVersion
    from scoring.policy import current_policy

    filename = f"bench-{rows}.csv"
    officer, _ = User.objects.get_or_create(username="bench_results_officer")
    officer.groups.set([Group.objects.get(name="loan_officer")])
    existing = BatchJob.objects.filter(created_by=officer, filename=filename).first()
    if existing is not None:
        return officer, existing
    log(f"seeding a batch of {rows:,} rows (once)")
    model, _ = ModelVersion.objects.get_or_create(
        version="bench-results-model",
        defaults={"profile": "full", "bundle_path": "/nonexistent", "feature_count": FEATURES},
    )
    policy = current_policy()
    invalid = {n for n in range(1, rows + 1) if n % 200 == 0}
    row_errors = {str(n): {"AMT_CREDIT": "must be a number (got 'lots')"} for n in invalid}
    application_row = {f"COLUMN_{i:03d}": 0.123456 * i for i in range(120)}
    contributions = [
        {"feature": f"FEATURE_{i:03d}_LONG_NAME", "value": 1234.5678 + i, "contribution": -0.01 * i}
        for i in range(FEATURES)
    ]
    reasons = [
        {"code": "CREDIT_TO_INCOME", "text": "Requested credit is high relative to income",
         "detail": "4.2 times annual income", "contribution": 0.41, "features": []},
        {"code": "EXT_SOURCE", "text": "External credit scores are low",
         "detail": "", "contribution": 0.3, "features": []},
    ]  # fmt: skip
    with transaction.atomic():
        batch = BatchJob.objects.create(
            created_by=officer,
            filename=filename,
            status=BatchJob.Status.DONE,
            total_rows=rows,
            invalid_rows=len(invalid),
            row_errors=row_errors,
        )
        numbers = [n for n in range(1, rows + 1) if n not in invalid]
        applicants = Applicant.objects.bulk_create(
            [
                Applicant(
                    full_name="", external_id=100000 + n, days_birth=-12000, created_by=officer
                )
                for n in numbers
            ],
            batch_size=bulk_batch_size(Applicant),
        )
        applications = LoanApplication.objects.bulk_create(
            [
                LoanApplication(
                    applicant=applicant,
                    created_by=officer,
                    channel=LoanApplication.Channel.BATCH,
                    status=LoanApplication.Status.DECIDED,
                    contract_type="Cash loans",
                    amt_income_total=180000,
                    amt_credit=500000,
                    application_row=application_row,
                    batch=batch,
                    batch_row=n,
                )
                for applicant, n in zip(applicants, numbers, strict=True)
            ],
            batch_size=bulk_batch_size(LoanApplication),
        )
        Decision.objects.bulk_create(
            [
                Decision(
                    application=application,
                    probability_of_default=0.01 + (application.batch_row % 97) / 100,
                    logit=-1.5,
                    risk_band="MEDIUM",
                    outcome="REFER",
                    model_version=model,
                    policy=policy,
                    reasons=reasons,
                    base_value=-2.5,
                    contributions=contributions,
                    scoring_latency_ms=10.0,
                )
                for application in applications
            ],
            batch_size=500,
        )
    return officer, batch


def download(officer, batch) -> tuple[float, int, int]:
    """Seconds to receive the whole CSV through the request handler, bytes and lines."""
    from django.test import Client

    client = Client()
    client.force_login(officer)
    started = time.perf_counter()
    response = client.get(f"/batches/{batch.pk}/results.csv")
    assert response.status_code == 200, response.status_code
    size = lines = 0
    for part in response.streaming_content:
        size += len(part)
        lines += part.count(b"\n")
    return time.perf_counter() - started, size, lines


def old_read(batch) -> float:
    """The read results.csv made before: every application and decision as objects."""
    started = time.perf_counter()
    rows = {
        application.batch_row: application
        for application in batch.applications.select_related(
            "applicant", "decision", "decision__model_version", "decision__policy"
        ).iterator(chunk_size=2000)
    }
    assert rows
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/credscope_bench_results",
    )
    parser.add_argument("--skip-old", action="store_true", help="do not time the old read")
    args = parser.parse_args()
    env = environment(args)
    prepare_database(args, env)
    setup_django(env)
    officer, batch = seed(args.rows)
    runs, size, lines = [], 0, 0
    for run in range(args.runs):
        seconds, size, lines = download(officer, batch)
        runs.append(round(seconds, 3))
        log(f"run {run + 1}: {seconds:.2f} s, {size:,} bytes, {lines:,} lines")
    result = {
        "figure": "results_csv_download",
        "rows": batch.total_rows,
        "decided_rows": batch.total_rows - batch.invalid_rows,
        "lines": lines,
        "bytes": size,
        "seconds_median": round(statistics.median(runs), 3),
        "seconds_runs": runs,
        "rows_per_second": round(batch.total_rows / statistics.median(runs)),
        "target_seconds": 3.0,
    }
    if not args.skip_old:
        log("timing the old read (objects with contributions)")
        result["old_read_seconds"] = round(old_read(batch), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
