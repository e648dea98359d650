"""Artefacts shared by the model tests, built once per test process.

Session fixtures defined here and imported into several test modules would be built once
per module; these process-wide caches make the real sample's features and the tiny trained
bundle cost their time once for the whole run.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.ml.features.build import FeatureSet, build_features
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.training.pipeline import TrainResult, train_and_bundle

TABLES = ("application_train", *HISTORY_TABLES)


@functools.cache
def sample_tables(directory: Path) -> dict[str, pd.DataFrame]:
    from scoring.ml.data.load import load_tables

    return load_tables(directory, TABLES)


@functools.cache
def sample_features(directory: Path) -> FeatureSet:
    tables = sample_tables(directory)
    return build_features(tables["application_train"], {t: tables[t] for t in HISTORY_TABLES})


@functools.cache
def trained_bundle(directory: Path) -> tuple[TrainResult, tuple[str, ...]]:
    """The `test` profile trained on the real sample (written to a temporary folder), and
    the progress lines it reported."""
    out = Path(tempfile.mkdtemp(prefix="credscope-ml-test-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    lines: list[str] = []
    result = train_and_bundle(directory, out, profile="test", seed=3, progress=lines.append)
    return result, tuple(lines)


#: A valid minimal payload, as API clients send it (Kaggle application columns): every input
#: that the `test` model (trained on the real sample) or the demo's `fast` model requires,
#: plus the external scores. Tests that post applications start from it.
SEED_APPLICATION_ROW = {
    "AMT_INCOME_TOTAL": 180000,
    "AMT_CREDIT": 500000,
    "AMT_ANNUITY": 25000,
    "DAYS_BIRTH": -15000,
    "DAYS_EMPLOYED": -2000,
    "DAYS_LAST_PHONE_CHANGE": -1000,
    "CNT_FAM_MEMBERS": 2,
    "NAME_EDUCATION_TYPE": "Higher education",
    "REGION_POPULATION_RELATIVE": 0.035792,
    "REGION_RATING_CLIENT_W_CITY": 2,
    "FLAG_DOCUMENT_3": 1,
    "EXT_SOURCE_1": 0.65,
    "EXT_SOURCE_2": 0.72,
    "EXT_SOURCE_3": 0.58,
}


def applicant_history(directory: Path, sk_id_curr: int) -> dict[str, pd.DataFrame]:
    """Only this applicant's rows of every history table (as the online path gets them)."""
    tables = sample_tables(directory)
    out = {}
    for name in HISTORY_TABLES:
        if name == "bureau_balance":
            bureau = tables["bureau"]
            ids = bureau.loc[bureau["SK_ID_CURR"] == sk_id_curr, "SK_ID_BUREAU"]
            frame = tables[name][tables[name]["SK_ID_BUREAU"].isin(ids)]
        else:
            frame = tables[name][tables[name]["SK_ID_CURR"] == sk_id_curr]
        out[name] = frame
    return out


def same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float32 rounding of float64 sums taken in another order; NaN where NaN."""
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    mask = ~np.isnan(a)
    return bool(np.allclose(a[mask], b[mask], rtol=1e-6, atol=1e-9))
