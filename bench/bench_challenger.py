"""The champion's sync latency with and without a challenger; prints one JSON object.

The same stack as bench_scoring.py (gunicorn with production settings, PostgreSQL, Redis),
plus a second Celery worker, at `nice 10`, serving only the challenger's queue. The bundle
given by `--bundle` is the champion; a second registration of the same bundle is the
challenger (same cost to score, which is what matters here). Rounds alternate: without a
challenger, then with one, `--rounds` times, each `--sync` requests with ?wait=true; the
figure is the champion's sync p50 with the challenger against without (target: at most +10%),
and that every decision made with the challenger set got its challenger score.

    .venv/bin/python bench/bench_challenger.py --bundle DIR [--sync 150] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import (  # the sibling bench script, on the path just above
    PASSWORD,
    Client,
    Process,
    application_rows,
    environment,
    free_port,
    log,
    measure_sync,
    prepare_database,
    prepare_users_and_model,
    setup_django,
    wait_until,
)

#: The challenger's worker computes on one thread: polars, numba and BLAS would otherwise
#: spread its work over every core, beside the champion's requests (as in docker-compose.yml).
ONE_THREAD = {
    "POLARS_MAX_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/credscope_bench"
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", default=f"credscope-bench-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--sync", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fresh", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    env = environment(args)
    challenger_queue = f"{args.queue}-challenger"
    env["CREDSCOPE_CHALLENGER_QUEUE"] = challenger_queue
    prepare_database(args, env)
    setup_django(env)
    from scoring import registry
    from scoring.models import ChallengerScore, Decision, ModelVersion

    champion = prepare_users_and_model(args)
    source = ModelVersion.objects.get(version=champion)
    shadow, _ = ModelVersion.objects.get_or_create(
        version=f"{champion}-shadow",
        defaults={
            "profile": source.profile,
            "bundle_path": source.bundle_path,
            "feature_count": source.feature_count,
            "metrics": source.metrics,
        },
    )
    rows = application_rows(5000)
    port = free_port()
    processes = [
        Process(
            [sys.executable, "-m", "gunicorn", "credscope_site.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", str(args.web_workers), "--timeout", "300"],
            env, "gunicorn",
        ),
        Process(
            [sys.executable, "-m", "celery", "-A", "credscope_site", "worker", "--pool=solo",
             "-Q", args.queue, "-n", f"{args.queue}@localhost", "--without-gossip",
             "--without-mingle", "--loglevel=WARNING"],
            env, "worker",
        ),
        Process(
            ["nice", "-n", "10", sys.executable, "-m", "celery", "-A", "credscope_site", "worker",
             "--pool=solo", "-Q", challenger_queue, "-n", f"{challenger_queue}@localhost",
             "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
            {**env, **ONE_THREAD}, "challenger-worker",
        ),
    ]  # fmt: skip
    without: list[float] = []
    with_challenger: list[float] = []
    shadowed = 0
    try:
        client = Client(port)
        wait_until(lambda: client.request("GET", "/health/")[0] == 200, 60, "gunicorn")
        status, body = client.json(
            "POST", "/api/v1/auth/token/", {"username": "bench_officer", "password": PASSWORD}
        )
        if status != 200:
            raise SystemExit(f"token request answered {status}: {body}")
        client.token = body["token"]
        log("warming up")
        measure_sync(client, rows, 10 * args.web_workers)
        for round_number in range(1, args.rounds + 1):
            ModelVersion.objects.filter(pk=shadow.pk).update(is_challenger=False)
            result = measure_sync(client, rows, args.sync)
            without.append(result["p50_ms"])
            log(f"round {round_number} without challenger: {result}")
            registry.model_version_challenger_set(version=shadow.version, actor=None)
            before = Decision.objects.count()
            result = measure_sync(client, rows, args.sync)
            with_challenger.append(result["p50_ms"])
            log(f"round {round_number} with challenger: {result}")
            expected = Decision.objects.count() - before
            ids = Decision.objects.order_by("-pk").values_list("pk", flat=True)[:expected]
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                done = ChallengerScore.objects.filter(
                    model_version=shadow, decision_id__in=list(ids)
                ).count()
                if done >= expected:
                    break
                time.sleep(1)
            shadowed += done
            log(f"round {round_number}: {done} of {expected} decisions shadow-scored")
    finally:
        ModelVersion.objects.filter(pk=shadow.pk).update(is_challenger=False)
        for process in processes:
            process.stop()
    p50_without = statistics.median(without)
    p50_with = statistics.median(with_challenger)
    print(
        json.dumps(
            {
                "benchmark": "bench_challenger",
                "cpu_count": os.cpu_count(),
                "sync_requests_per_round": args.sync,
                "rounds": args.rounds,
                "sync_p50_ms_without_challenger": p50_without,
                "sync_p50_ms_with_challenger": p50_with,
                "rise": p50_with / p50_without - 1,
                "meets_target_rise_at_most_10pct": p50_with <= 1.10 * p50_without,
                "shadow_scored": shadowed,
                "decided_with_challenger": args.sync * args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
