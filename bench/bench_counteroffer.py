"""Counteroffer search latency over generated REFER and REJECT applicants; prints one JSON.

The search is timed as the decide path runs it (`scoring.counteroffers.counteroffer_search`:
the candidates checked against the input contract, one feature build and one prediction
with the live scorer, the policy's choice), on applicants the model refers or rejects
under the default policy (approve below 8%, reject from 25%). Applicants come from the
generator (`--scale`, `--seed`) with their own history inline, as an API client sends them.
Target: p50 <= 30 ms. Beside it, the same applicant scored once by the normal path (one
row, with SHAP and the explanation), for scale on a busy machine. No database is needed:
the model version and the policy are the unsaved rows the search reads.

    .venv/bin/python bench/bench_counteroffer.py --bundle DIR [--applicants 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import log, percentile  # noqa: E402  (the sibling bench script)

TARGET_P50_MS = 30


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.local")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def generated_applicants(scale: float, seed: int) -> list[dict[str, Any]]:
    """Generated applicants as clients send them: every column, their history inline."""
    from scoring.ml.synth.clients import client_payload, generated_clients
    from scoring.ml.synth.generate import generate

    folder = Path(tempfile.mkdtemp(prefix="credscope-bench-counteroffer-"))
    generate(folder, scale, seed, "parquet")
    payloads = (client_payload(row, history) for row, history in generated_clients(folder))
    return [payload for payload in payloads if payload is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a model bundle folder")
    parser.add_argument("--applicants", type=int, default=300, help="REFER/REJECT to time")
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    load_before = os.getloadavg()
    setup_django()
    from scoring import registry
    from scoring.counteroffers import counteroffer_search
    from scoring.ml.serving.bundle import load_bundle
    from scoring.models import DecisionPolicy, ModelVersion
    from scoring.policy import outcome_for

    bundle = load_bundle(args.bundle)
    model_version = ModelVersion(version=bundle.version, bundle_path=str(args.bundle.resolve()))
    policy = DecisionPolicy(
        version=1, very_low_below=0.02, low_below=0.05, medium_below=0.1, high_below=0.2,
        approve_below=0.08, reject_at_or_above=0.25,
    )  # fmt: skip
    log(f"generating applicants (scale {args.scale})")
    applicants = generated_applicants(args.scale, args.seed)
    log(f"{len(applicants)} applicants; scoring them to find the refused")
    scores = registry.score_records_with(
        model_version=model_version,
        application_rows=[a["row"] for a in applicants],
        histories=[a["history"] or None for a in applicants],
        external_ids=[None] * len(applicants),
    )
    refused = [
        (a, outcome_for(s.probability_of_default, policy))
        for a, s in zip(applicants, scores, strict=True)
        if outcome_for(s.probability_of_default, policy) != "APPROVE"
    ][: args.applicants]
    log(f"timing the search for {len(refused)} REFER/REJECT applicants")
    timings, candidates, offers, kinds = [], [], 0, {"longer_term": 0, "smaller_amount": 0}
    history_rows, baseline = [], []
    for applicant, outcome in refused:
        # The same applicant scored once by the normal path, for scale on a busy machine.
        started = time.perf_counter()
        registry.score_records_with(
            model_version=model_version,
            application_rows=[applicant["row"]],
            histories=[applicant["history"] or None],
            external_ids=[None],
        )
        baseline.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        document = counteroffer_search(
            application_row=applicant["row"],
            history=applicant["history"] or None,
            external_id=None,
            model_version=model_version,
            policy=policy,
            outcome=outcome,
        )
        timings.append((time.perf_counter() - started) * 1000)
        candidates.append(document["candidates"])
        history_rows.append(sum(len(rows) for rows in applicant["history"].values()))
        if document["offer"] is not None:
            offers += 1
            kinds[document["offer"]["kind"]] += 1
    print(
        json.dumps(
            {
                "bundle": bundle.version,
                "applicants_generated": len(applicants),
                "refused_timed": len(refused),
                "search_ms": {
                    "p50": round(statistics.median(timings), 2),
                    "p99": round(percentile(timings, 99), 2),
                    "max": round(max(timings), 2),
                    "target_p50": TARGET_P50_MS,
                },
                "one_normal_scoring_ms": {
                    "p50": round(statistics.median(baseline), 2),
                    "p99": round(percentile(baseline, 99), 2),
                },
                "search_over_scoring_p50": round(
                    statistics.median(timings) / statistics.median(baseline), 2
                ),
                "candidates_per_search": {
                    "median": statistics.median(candidates),
                    "max": max(candidates),
                },
                "history_rows_per_applicant_median": statistics.median(history_rows),
                "offers": offers,
                "offers_by_kind": kinds,
                "load_average": {"before": load_before, "after": os.getloadavg()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
