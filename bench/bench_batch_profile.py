"""Where a CSV batch's time goes, in process: the upload's intake and one chunk task; prints
one JSON object.

In a PostgreSQL database of its own (default `credscope_bench_profile`, created and migrated
if needed), with the model bundle `--bundle` active, it uploads `--rows` real Kaggle rows
(../shared, cycled) through `batch_intake.batch_create` (the broker call stubbed out: nothing
else scores them), then decides the batch's first chunk (CREDSCOPE_BATCH_CHUNK_SIZE rows)
through `chunks.batch_chunk_decide`, each once plainly (wall and CPU seconds) and once under
cProfile. The profile gives each step's share of the profiled time: on a shared machine wall
times follow the load, the shares much less.

    .venv/bin/python bench/bench_batch_profile.py --bundle DIR [--rows 10000]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import (  # the sibling bench script
    application_rows,
    load_average,
    prepare_database,
    setup_django,
)

#: The steps reported, by the function that does each (file suffix, function name).
INTAKE_STEPS = {
    "parse_csv": ("applicants/services/batch_intake.py", "parse_csv"),
    "validate": ("applicants/services/batch_intake.py", "_clean_lines"),
    "resubmission_warnings": ("applicants/services/batch_intake.py", "resubmission_warnings"),
    "save_intakes": ("applicants/services/batch_intake.py", "_save_intakes"),
    "audit_event": ("audits/trail.py", "record"),
}
CHUNK_STEPS = {
    "save_intake": ("scoring/chunks.py", "_intake_save"),
    "claim": ("scoring/chunks.py", "_claim_chunk"),
    "score_features_shap": ("scoring/decide.py", "_score"),
    "decide_and_save": ("scoring/decide.py", "_decide_scored"),
    "reasons": ("scoring/reasons.py", "reasons_for_explained"),
    "audit_events": ("audits/trail.py", "record_many"),
    "finish_check": ("scoring/chunks.py", "batch_finish_if_complete"),
}


def log(message: str) -> None:
    print(f"[bench_batch_profile] {message}", file=sys.stderr, flush=True)


def shares(profile: cProfile.Profile, steps: dict[str, tuple[str, str]]) -> dict[str, float]:
    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = max(ct for *_, ct, _ in stats.values())
    out = {}
    for step, (suffix, name) in steps.items():
        seconds = sum(
            ct for (file, _, func), (_, _, _, ct, _) in stats.items()
            if func == name and file.endswith(suffix)
        )  # fmt: skip
        out[step] = round(seconds / total, 3)
    return out


def timed(call) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/credscope_bench_profile"
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--pstats",
        type=Path,
        help="also write the chunk's cProfile here (pstats format; the intake's beside it)",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.production",
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    prepare_database(args, env)
    setup_django(env)

    from django.conf import settings
    from django.contrib.auth.models import Group, User

    from applicants.services import batch_intake
    from credscope_site.process_heap import heap_freeze
    from scoring import chunks, queue, registry
    from scoring.ml.serving import forest
    from scoring.models import ModelVersion

    officer, _ = User.objects.get_or_create(username="bench_profile_officer")
    officer.groups.set([Group.objects.get(name="loan_officer")])
    if not ModelVersion.objects.filter(version=args.bundle.name).exists():
        registry.model_version_register(bundle_path=args.bundle, profile="bench", trained_by=None)
    registry.model_version_activate(version=args.bundle.name, actor=None, reason="bench")
    registry.scorer_warm()
    heap_freeze()  # as a web or worker process does after its warm start
    forest.shap_threads_allow(False)  # as a worker process does: one core each
    queue.batch_scoring_enqueue = lambda **_: None  # this bench decides the chunk itself

    rows = application_rows(5000)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=sorted({name for row in rows for name in row}))
    writer.writeheader()
    writer.writerows(rows[i % len(rows)] for i in range(args.rows))
    content = buffer.getvalue().encode()

    def upload():
        return batch_intake.batch_create(actor=officer, filename="profile.csv", content=content)

    def first_chunk(batch_id: int, task_id: str):
        first, last = chunks.batch_chunks_plan(batch_id=batch_id)[0]
        return lambda: chunks.batch_chunk_decide(
            batch_id=batch_id, first_row=first, last_row=last, task_id=task_id
        )

    load_before = load_average()
    log(f"intake of {args.rows:,} rows")
    batches = []
    intake_wall, intake_cpu = timed(lambda: batches.append(upload()))
    intake_profile = cProfile.Profile()
    intake_profile.runcall(lambda: batches.append(upload()))
    log(f"one chunk of {settings.CREDSCOPE_BATCH_CHUNK_SIZE} rows")
    chunk_wall, chunk_cpu = timed(first_chunk(batches[0].pk, "bench-plain"))
    chunk_profile = cProfile.Profile()
    chunk_profile.runcall(first_chunk(batches[1].pk, "bench-profiled"))
    chunk_rows = settings.CREDSCOPE_BATCH_CHUNK_SIZE
    if args.pstats:
        chunk_profile.dump_stats(args.pstats)
        intake_profile.dump_stats(args.pstats.with_suffix(".intake.pstats"))
    print(
        json.dumps(
            {
                "benchmark": "bench_batch_profile",
                "model_version": args.bundle.name,
                "cpu_count": os.cpu_count(),
                "load_average": {"before": load_before, "after": load_average()},
                "intake": {
                    "rows": args.rows,
                    "seconds": intake_wall,
                    "cpu_seconds": intake_cpu,
                    "rows_per_s": round(args.rows / intake_wall, 1),
                    "profile_shares": shares(intake_profile, INTAKE_STEPS),
                },
                "chunk": {
                    "rows": chunk_rows,
                    "seconds": chunk_wall,
                    "cpu_seconds": chunk_cpu,
                    "rows_per_s": round(chunk_rows / chunk_wall, 1),
                    "profile_shares": shares(chunk_profile, CHUNK_STEPS),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
