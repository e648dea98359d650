"""One call from a data directory to a verified bundle: load, build features, train, write."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from scoring.ml.data.load import load_tables
from scoring.ml.features.build import (
    DEFAULT_EXCLUDED,
    FEATURE_VERSION,
    FeatureSet,
    build_features,
    catalogue_digest,
)
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import write_bundle
from scoring.ml.training.ensemble import Progress, train_ensemble
from scoring.ml.training.learners import BASE_MODELS
from scoring.ml.training.metrics import DEFAULT_THRESHOLD


@dataclass
class TrainResult:
    version: str
    bundle_path: Path
    manifest_sha256: str
    metrics: dict[str, Any]
    seconds: float

    def headline(self) -> dict[str, Any]:
        """One JSON-ready line for the command to print."""
        return {
            "version": self.version,
            "bundle": str(self.bundle_path),
            **self.metrics["headline"],
        }


def train_and_bundle(
    data_dir: str | Path,
    out_dir: str | Path,
    profile: str = "fast",
    trials: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    exclude: Sequence[str] = DEFAULT_EXCLUDED,
    with_history: bool = True,
) -> TrainResult:
    """Load the tables in ``data_dir``, build features, train, and write a bundle.

    ``data_dir`` is anything :func:`scoring.ml.data.load.load_tables` reads: a typed cache, the
    raw Kaggle files (``.csv`` / ``.csv.gz``) such as the real sample, or a generator
    output, whose ``oracle/oracle.parquet`` then adds the oracle AUC to the metrics.
    ``with_history=False`` withholds the history tables (the application-only baseline).
    """
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    data_dir = Path(data_dir)
    wanted = ["application_train", *(HISTORY_TABLES if with_history else ())]
    tables = load_tables(data_dir, wanted)
    say(
        f"loaded {', '.join(f'{k} {len(v):,}' for k, v in tables.items())} "
        f"({time.perf_counter() - started:.1f}s)"
    )
    t0 = time.perf_counter()
    features = build_features(tables.pop("application_train"), tables, exclude=exclude)
    del tables
    say(
        f"built {features.X.shape[1]} features for {len(features):,} applicants "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    oracle = read_oracle(data_dir, features.ids)
    ensemble = train_ensemble(
        features, profile=profile, trials=trials, seed=seed, progress=progress, oracle=oracle
    )
    training = {
        **ensemble.training,
        "data": {"directory": str(data_dir), "with_history": with_history},
        "fingerprint": data_fingerprint(features),
        "libraries": library_versions(),
    }
    info = write_bundle(
        out_dir,
        models=ensemble.models,
        ensemble={
            "base_models": list(BASE_MODELS),
            "meta_weights": ensemble.meta_weights,
            "meta_intercept": ensemble.meta_intercept,
            "calibration": {
                "method": "platt",
                "slope": ensemble.calibration_slope,
                "intercept": ensemble.calibration_intercept,
            },
            "output": "logit(PD) = slope * (meta_intercept + sum_m meta_weight_m * margin_m) "
            "+ intercept; margins are each model's raw score",
            "threshold": DEFAULT_THRESHOLD,
        },
        features=features_manifest(features),
        metrics=ensemble.metrics,
        training=training,
    )
    seconds = time.perf_counter() - started
    say(f"bundle {info.version} written to {info.path} ({seconds:.1f}s in all)")
    return TrainResult(info.version, info.path, info.manifest_sha256, ensemble.metrics, seconds)


def read_oracle(data_dir: Path, ids: np.ndarray) -> np.ndarray | None:
    """The generator's true PD for ``ids`` (``oracle/oracle.parquet``), if present."""
    path = Path(data_dir) / "oracle" / "oracle.parquet"
    if not path.is_file():
        return None
    oracle = pl.read_parquet(path, columns=["SK_ID_CURR", "p_default"])
    frame = pl.DataFrame({"SK_ID_CURR": ids}).join(
        oracle, on="SK_ID_CURR", how="left", maintain_order="left"
    )
    values = frame.get_column("p_default").to_numpy()
    return None if np.isnan(values).any() else values


def features_manifest(features: FeatureSet) -> dict[str, Any]:
    """``features.json``: the versioned feature list with types."""
    return {
        "feature_version": FEATURE_VERSION,
        "digest": catalogue_digest(features.specs),
        "excluded": list(features.excluded),
        "protected_columns": list(features.protected.columns.drop("SK_ID_CURR")),
        "names": list(features.feature_names),
        "features": [s.to_dict() for s in features.specs],
    }


def data_fingerprint(features: FeatureSet) -> dict[str, Any]:
    """What the model was trained on: sizes, target rate and a hash of matrix and target."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(features.ids).tobytes())
    digest.update(np.ascontiguousarray(features.X).tobytes())
    if features.target is not None:
        digest.update(np.ascontiguousarray(features.target).tobytes())
    return {
        "sha256": digest.hexdigest(),
        "rows": len(features),
        "features": int(features.X.shape[1]),
        "default_rate": None if features.target is None else float(features.target.mean()),
        "sk_id_curr_min": int(features.ids.min()) if len(features) else None,
        "sk_id_curr_max": int(features.ids.max()) if len(features) else None,
    }


def library_versions() -> dict[str, str]:
    names = ("lightgbm", "xgboost", "catboost", "scikit-learn", "numpy", "polars", "numba")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out
