"""Benchmark of the model pipeline; prints one JSON object.

Sections (``--sections``, comma separated; default all):

* ``features``: the feature build at ``--scale`` (default 1.0, the Kaggle size: ~307k
  applicants, ~58M history rows), in a child process so its wall time and peak RSS are its
  own. Loading the Parquet files is timed apart from the build.
* ``engines``: the same instalment aggregates (the biggest history table) in polars, pandas
  and DuckDB at ``--scale``: the measurement behind choosing polars.
* ``fast``: the ``fast`` profile end to end (load, features, train, bundle) at
  ``--train-scale`` (default 0.1).
* ``full``: the ``full`` profile at ``--train-scale``: ensemble OOF AUC, best base model,
  oracle AUC, and the same pipeline with the history tables withheld (application only).
* ``latency``: one applicant in process, features excluded, with the full-profile model:
  prediction and prediction + SHAP of all three models, p50 / p99.

Data comes from ``scoring.ml.synth.generate.generate`` under ``--work`` (reused when present).
Targets (2 cores, 24 GB): features at scale 1.0 <= 300 s and <= 12 GB; fast at 0.1 <= 600 s;
full OOF AUC within 0.01 of the oracle, ensemble >= best base, all tables >= app-only + 0.03;
prediction p50 <= 2 ms; prediction + SHAP p50 <= 15 ms, p99 <= 30 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECTIONS = ("features", "engines", "fast", "full", "latency")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dataset(work: Path, scale: float, seed: int) -> Path:
    """A generated data set at ``scale`` (Parquet), generated once and then reused."""
    from scoring.ml.synth.generate import generate

    out = work / f"synth-{scale:g}-{seed}"
    if not (out / "oracle" / "oracle.parquet").is_file():
        started = time.perf_counter()
        generate(out, scale, seed, "parquet", None)
        log(f"generated scale {scale:g} in {time.perf_counter() - started:.0f}s: {out}")
    return out


# --- features ----------------------------------------------------------------------------------


def child_features(directory: str) -> dict[str, Any]:
    """Run in a child process: load the Parquet files, build the matrix, report."""
    import resource

    import polars as pl

    from scoring.ml.features.build import build_features
    from scoring.ml.schema.tables import HISTORY_TABLES

    started = time.perf_counter()
    app = pl.read_parquet(f"{directory}/application_train.parquet")
    history = {t: pl.read_parquet(f"{directory}/{t}.parquet") for t in HISTORY_TABLES}
    loaded = time.perf_counter()
    fs = build_features(app, history)
    built = time.perf_counter()
    return {
        "load_seconds": round(loaded - started, 1),
        "build_seconds": round(built - loaded, 1),
        "rows": len(fs),
        "history_rows": sum(h.height for h in history.values()),
        "features": fs.X.shape[1],
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_features(work: Path, scale: float, seed: int) -> dict[str, Any]:
    directory = dataset(work, scale, seed)
    started = time.perf_counter()
    out = _run_child("features", str(directory))
    out["scale"] = scale
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    out["engine"] = "polars"
    out["targets"] = {"build_seconds": 300, "peak_rss_gb": 12}
    return out


# --- engines: the measurement behind polars ----------------------------------------------------

_AGG_COLUMNS = ("DPD", "DBD", "LATE", "PAY_RATIO", "PAY_DIFF", "AMT_INSTALMENT", "AMT_PAYMENT")


def bench_engines(work: Path, scale: float, seed: int) -> dict[str, Any]:
    """The instalment aggregates (row features, 4 statistics of 7 columns, 3 windows) in each
    engine, in child processes so each has its own peak RSS."""
    directory = dataset(work, scale, seed)
    path = directory / "installments_payments.parquet"
    out: dict[str, Any] = {"table": "installments_payments", "scale": scale}
    for engine in ("polars", "pandas", "duckdb"):
        out[engine] = _run_child("engine", engine, str(path))
    return out


def child_engine(engine: str, path: str) -> dict[str, Any]:
    """Run in a child process: the instalment aggregates in one engine."""
    import resource

    started = time.perf_counter()
    frame = _ENGINES[engine](path)
    loaded = time.perf_counter()
    out = frame()
    done = time.perf_counter()
    return {
        "load_seconds": round(loaded - started, 1),
        "aggregate_seconds": round(done - loaded, 1),
        "outputs": out,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


_STATS = ("mean", "max", "min", "sum")
_WINDOWS = (6, 12, 24)


def _polars(path: str) -> Any:
    import polars as pl

    c = pl.col
    frame = pl.read_parquet(path)

    def run() -> int:
        late = c("DAYS_ENTRY_PAYMENT") - c("DAYS_INSTALMENT")
        rows = frame.lazy().with_columns(
            late.clip(lower_bound=0).alias("DPD"),
            (-late).clip(lower_bound=0).alias("DBD"),
            (late > 0).cast(pl.Float64).alias("LATE"),
            pl.when(c("AMT_INSTALMENT") != 0)
            .then(c("AMT_PAYMENT") / c("AMT_INSTALMENT"))
            .alias("PAY_RATIO"),
            (c("AMT_INSTALMENT") - c("AMT_PAYMENT")).alias("PAY_DIFF"),
        )
        windows = [
            pl.when(c("DAYS_INSTALMENT") >= -30.4375 * m).then(c(x)).alias(f"W{m}_{x}")
            for m in _WINDOWS
            for x in _AGG_COLUMNS
        ]
        names = list(_AGG_COLUMNS) + [f"W{m}_{x}" for m in _WINDOWS for x in _AGG_COLUMNS]
        aggs = [getattr(c(x), s)().alias(f"{x}_{s}") for x in names for s in _STATS]
        return rows.with_columns(windows).group_by("SK_ID_CURR").agg(aggs).collect().width

    return run


def _pandas(path: str) -> Any:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(path)

    def run() -> int:
        late = frame["DAYS_ENTRY_PAYMENT"] - frame["DAYS_INSTALMENT"]
        rows = pd.DataFrame(
            {
                "SK_ID_CURR": frame["SK_ID_CURR"],
                "DPD": late.clip(lower=0),
                "DBD": (-late).clip(lower=0),
                "LATE": (late > 0).astype(float),
                "PAY_RATIO": frame["AMT_PAYMENT"] / frame["AMT_INSTALMENT"].replace(0, np.nan),
                "PAY_DIFF": frame["AMT_INSTALMENT"] - frame["AMT_PAYMENT"],
                "AMT_INSTALMENT": frame["AMT_INSTALMENT"],
                "AMT_PAYMENT": frame["AMT_PAYMENT"],
            }
        )
        for m in _WINDOWS:
            keep = frame["DAYS_INSTALMENT"] >= -30.4375 * m
            for x in _AGG_COLUMNS:
                rows[f"W{m}_{x}"] = rows[x].where(keep)
        return rows.groupby("SK_ID_CURR").agg(list(_STATS)).shape[1]

    return run


def _duckdb(path: str) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(f"CREATE TABLE f AS SELECT * FROM read_parquet('{path}')")  # noqa: S608

    def run() -> int:
        rows = (
            "SELECT SK_ID_CURR, DAYS_INSTALMENT, "
            "greatest(DAYS_ENTRY_PAYMENT - DAYS_INSTALMENT, 0) AS DPD, "
            "greatest(DAYS_INSTALMENT - DAYS_ENTRY_PAYMENT, 0) AS DBD, "
            "CAST(DAYS_ENTRY_PAYMENT > DAYS_INSTALMENT AS DOUBLE) AS LATE, "
            "AMT_PAYMENT / NULLIF(AMT_INSTALMENT, 0) AS PAY_RATIO, "
            "AMT_INSTALMENT - AMT_PAYMENT AS PAY_DIFF, AMT_INSTALMENT, AMT_PAYMENT FROM f"
        )
        exprs = []
        for x in _AGG_COLUMNS:
            for s in _STATS:
                fn = {"mean": "avg"}.get(s, s)
                exprs.append(f"{fn}({x}) AS {x}_{s}")
                exprs += [
                    f"{fn}({x}) FILTER (WHERE DAYS_INSTALMENT >= {-30.4375 * m}) AS W{m}_{x}_{s}"
                    for m in _WINDOWS
                ]
        sql = f"SELECT SK_ID_CURR, {', '.join(exprs)} FROM ({rows}) GROUP BY SK_ID_CURR"  # noqa: S608
        return con.execute(sql).to_arrow_table().num_columns

    return run


_ENGINES = {"polars": _polars, "pandas": _pandas, "duckdb": _duckdb}


# --- training -----------------------------------------------------------------------------------


def bench_fast(work: Path, scale: float, seed: int) -> dict[str, Any]:
    from scoring.ml.training.pipeline import train_and_bundle

    directory = dataset(work, scale, seed)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = train_and_bundle(directory, out, profile="fast", seed=seed, progress=log)
        seconds = time.perf_counter() - started
    return {
        "scale": scale,
        "end_to_end_seconds": round(seconds, 1),
        "target_seconds": 600,
        "ensemble_oof_auc": result.metrics["headline"]["ensemble_oof_auc"],
        "oracle_oof_auc": result.metrics["headline"]["oracle_oof_auc"],
    }


def bench_full(work: Path, scale: float, seed: int, bundles: Path) -> dict[str, Any]:
    from scoring.ml.training.pipeline import train_and_bundle

    directory = dataset(work, scale, seed)
    started = time.perf_counter()
    full = train_and_bundle(directory, bundles, profile="full", seed=seed, progress=log)
    full_seconds = time.perf_counter() - started
    started = time.perf_counter()
    app_only = train_and_bundle(
        directory, bundles, profile="full", seed=seed, progress=log, with_history=False
    )
    app_seconds = time.perf_counter() - started
    h, a = full.metrics["headline"], app_only.metrics["headline"]
    base = {
        m: full.metrics["base_models"][m]["oof"]["roc_auc"]
        for m in ("lightgbm", "xgboost", "catboost")
    }
    return {
        "scale": scale,
        "bundle": str(full.bundle_path),
        "seconds": round(full_seconds, 1),
        "ensemble_oof_auc": h["ensemble_oof_auc"],
        "base_oof_auc": base,
        "best_base_oof_auc": h["best_base_oof_auc"],
        "oracle_oof_auc": h["oracle_oof_auc"],
        "gap_to_oracle": h["oracle_oof_auc"] - h["ensemble_oof_auc"],
        "holdout_calibrated_auc": h["holdout_auc"],
        "holdout_brier": h["holdout_brier"],
        "app_only_oof_auc": a["ensemble_oof_auc"],
        "app_only_seconds": round(app_seconds, 1),
        "all_tables_minus_app_only": h["ensemble_oof_auc"] - a["ensemble_oof_auc"],
        "final_trees": full.metrics.get("trees")
        or json.loads((full.bundle_path / "training.json").read_text())["final_trees"],
        "targets": {"gap_to_oracle_max": 0.01, "all_tables_minus_app_only_min": 0.03},
    }


# --- latency ------------------------------------------------------------------------------------


def bench_latency(bundle: Path, work: Path, scale: float, seed: int, runs: int) -> dict[str, Any]:
    import numpy as np

    from scoring.ml.data.load import load_tables
    from scoring.ml.schema.tables import HISTORY_TABLES
    from scoring.ml.serving.predict import Scorer

    started = time.perf_counter()
    scorer = Scorer.from_bundle(bundle)
    load_seconds = time.perf_counter() - started
    tables = load_tables(dataset(work, scale, seed), ["application_train", *HISTORY_TABLES])
    fs = scorer.features(tables["application_train"].iloc[:200], tables)
    rows = [fs.X[i : i + 1] for i in range(len(fs))]
    scorer.predict(rows[0])  # compile
    scorer.explain(rows[0])

    def timed(fn: Any) -> dict[str, float]:
        times = []
        for k in range(runs):
            row = rows[k % len(rows)]
            t0 = time.perf_counter()
            fn(row)
            times.append((time.perf_counter() - t0) * 1000)
        return {
            "p50_ms": round(float(np.percentile(times, 50)), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3),
        }

    predict = timed(scorer.predict)
    explain = timed(lambda row: (scorer.predict(row), scorer.explain(row)))
    online_rows = {
        t: tables[t][tables[t]["SK_ID_CURR"] == int(fs.ids[0])]
        for t in HISTORY_TABLES
        if t != "bureau_balance"
    }
    application = tables["application_train"].iloc[0].to_dict()
    feature_times = []
    for _ in range(30):
        t0 = time.perf_counter()
        scorer.features([application], online_rows)
        feature_times.append((time.perf_counter() - t0) * 1000)
    return {
        "bundle": str(bundle),
        "model": {
            "trees": scorer.forest.n_trees,
            "leaves": scorer.forest.n_leaves,
            "features": len(scorer.feature_names),
            "shap_tables_mb": round(scorer.forest.table_bytes / 1e6, 1),
            "load_seconds": round(load_seconds, 2),
        },
        "predict": predict,
        "predict_and_shap": explain,
        "features_one_applicant_p50_ms": round(float(np.median(feature_times)), 1),
        "targets": {
            "predict_p50_ms": 2,
            "predict_and_shap_p50_ms": 15,
            "predict_and_shap_p99_ms": 30,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="feature-build scale")
    parser.add_argument("--train-scale", type=float, default=0.1)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "credscope-bench"
    )
    parser.add_argument(
        "--bundle", type=Path, help="full-profile bundle for latency (else trained)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_features(*rest) if kind == "features" else child_engine(*rest)
        print(json.dumps(out))
        return
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"cpu_count": os.cpu_count()}
    if "features" in sections:
        result["features"] = bench_features(args.work, args.scale, args.seed)
    if "engines" in sections:
        result["engines"] = bench_engines(args.work, args.scale, args.seed)
    if "fast" in sections:
        result["fast"] = bench_fast(args.work, args.train_scale, args.seed)
    bundle = args.bundle
    if "full" in sections:
        result["full"] = bench_full(args.work, args.train_scale, args.seed, args.work / "bundles")
        bundle = Path(result["full"]["bundle"])
    if "latency" in sections:
        if bundle is None:
            parser.error("latency needs --bundle or the full section")
        result["latency"] = bench_latency(bundle, args.work, args.train_scale, args.seed, args.runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
