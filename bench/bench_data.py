"""Benchmark of the data layer: generate the synthetic tables, then load and validate them.

    python bench/bench_data.py [--scale 1.0] [--seed 1] [--format parquet]

Each step runs in its own child process, which reports its wall time and its own peak RSS,
so the figures of one step are not mixed with the other's. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def step_generate(out: Path, scale: float, seed: int, fmt: str) -> dict:
    from scoring.ml.synth.generate import generate

    started = time.perf_counter()
    summary = generate(out, scale, seed, fmt)  # type: ignore[arg-type]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "rows": summary.rows,
        "history_rows": sum(v for k, v in summary.rows.items() if not k.startswith("application")),
        "default_rate": round(summary.default_rate, 4),
        "oracle_auc": round(summary.oracle_auc, 4),
        "application_only_oracle_auc": round(summary.application_only_auc, 4),
    }


def step_load(source: Path, out: Path) -> dict:
    from scoring.ml.data.load import build_cache

    started = time.perf_counter()
    report = build_cache(source, out)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "rows": sum(t.rows for t in report.tables.values()),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
    }


def _child(*args: str) -> dict:
    """Run one step of this script in a fresh interpreter and return its JSON."""
    done = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    if done.returncode != 0:
        raise SystemExit(f"step {args[1]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--step", choices=("generate", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "generate":
        print(json.dumps(step_generate(args.dir / "generated", args.scale, args.seed, args.format)))
        return
    if args.step == "load":
        print(json.dumps(step_load(args.dir / "generated", args.dir / "cache")))
        return
    common = ["--scale", str(args.scale), "--seed", str(args.seed), "--format", args.format]
    with tempfile.TemporaryDirectory(prefix="bench_data_") as folder:
        generated = _child("--step", "generate", "--dir", folder, *common)
        loaded = _child("--step", "load", "--dir", folder, *common)
    print(
        json.dumps(
            {
                "benchmark": "data",
                "scale": args.scale,
                "seed": args.seed,
                "format": args.format,
                "cpus": os.cpu_count(),
                "generate": generated,
                "load_and_validate": loaded,
            }
        )
    )


if __name__ == "__main__":
    main()
