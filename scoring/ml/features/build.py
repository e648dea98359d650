"""The model matrix: one function for training, batch scoring and one applicant online.

:func:`build_features` turns application rows and the history tables into a
:class:`FeatureSet`: a float32 matrix ``X`` whose columns are :func:`feature_catalogue` (less
the excluded ones), the applicants' ids, the target when present, and the protected
attributes (gender, age band) kept *beside* the matrix for fairness evaluation.

Why this shape:

* **One code path.** The online row of an applicant is built by the very same polars plan
  as the batch, over just that applicant's rows (history tables may be empty or missing).
  Inputs are normalised first (numbers to Float64, text to String, NaN to null), so a
  pandas frame from the loader, a polars frame, or a list of JSON records all give the same
  row. A parity test holds this.
* **Deterministic encodings.** Categories are coded by the schema's fixed vocabularies
  (:mod:`scoring.ml.schema.tables`), never by the values seen, so one applicant's row does not
  depend on the rest of the data.
* **Polars.** Measured against pandas and DuckDB for the full-size build (see
  ``bench/bench_model.py``): polars' lazy group-by runs every table's aggregations in one
  parallel pass, and its per-query overhead is small enough for a single applicant.
* **Protected attributes.** ``exclude`` (default :data:`DEFAULT_EXCLUDED`) removes every
  feature whose ``inputs`` contain an excluded name, so gender and anything derived from it
  never reach the model unless asked for.

The feature list is versioned by :data:`FEATURE_VERSION`: a bundle records it and the
scorer refuses a bundle whose features differ from this code's.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from scoring.ml.features.application import APPLICATION, YEAR_DAYS, application_features
from scoring.ml.features.base import (
    KEY,
    FeatureKind,
    FeatureSpec,
)
from scoring.ml.features.history import history_blocks
from scoring.ml.features.interactions import interaction_features
from scoring.ml.schema.tables import (
    HISTORY_TABLES,
    TABLES,
    TARGET,
    Kind,
)

__all__ = [
    "AGE_BANDS",
    "DEFAULT_EXCLUDED",
    "FEATURE_VERSION",
    "FeatureKind",
    "FeatureSet",
    "FeatureSpec",
    "build_features",
    "fairness_age_band",
    "feature_catalogue",
    "feature_names",
    "normalize_table",
]

#: Bump when any feature's definition changes; bundles record it.
FEATURE_VERSION = "1"
#: Protected attributes left out of the model by default (and everything derived from them).
DEFAULT_EXCLUDED: tuple[str, ...] = ("CODE_GENDER",)
#: Columns returned beside the matrix for fairness evaluation.
PROTECTED_COLUMNS: tuple[str, ...] = ("CODE_GENDER", "AGE_BAND")
#: Age bands for fairness reporting: (label, lower bound in years, upper bound exclusive).
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<25", 0.0, 25.0),
    ("25-34", 25.0, 35.0),
    ("35-44", 35.0, 45.0),
    ("45-54", 45.0, 55.0),
    ("55+", 55.0, float("inf")),
)
_KEYS = frozenset({"SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV"})

FrameLike = pd.DataFrame | pl.DataFrame | pl.LazyFrame | Sequence[Mapping[str, Any]] | None


# --- input normalisation ------------------------------------------------------------------


def normalize_table(name: str, data: FrameLike) -> pl.DataFrame:
    """``data`` as a polars frame with exactly the schema's columns and canonical types.

    ``name`` is ``"application"`` or a history table name. Keys become Int64, every other
    number Float64 (NaN turned into null), text String; absent columns are added as null,
    extra ones dropped. ``None`` gives an empty table.
    """
    if data is None:
        return _empty(name)
    table = APPLICATION if name == "application" else TABLES[name]
    if isinstance(data, pl.LazyFrame):
        frame = data.collect()
    elif isinstance(data, pl.DataFrame):
        frame = data
    elif isinstance(data, pd.DataFrame) and len(data) <= _SMALL_FRAME // 10:
        # pl.from_pandas costs ~30 ms for a wide frame whatever its height; a handful of
        # rows (one applicant) goes faster through plain records.
        return _from_records(name, data.to_dict("records"))
    elif isinstance(data, pd.DataFrame):
        present = [c for c in table.column_names if c in data.columns]
        if not present:
            return _empty(name).clear(len(data))
        frame = pl.from_pandas(data[present], nan_to_null=True)
    else:
        return _from_records(name, list(data))
    schema = _canonical_schema(name)
    given = frame.schema  # a property that rebuilds the schema on every access
    missing = [c for c in schema if c not in given]
    by_type: dict[pl.DataType, list[str]] = {}
    for c, dtype in schema.items():
        if c in given and given[c] != dtype:
            by_type.setdefault(dtype, []).append(c)
    # A few multi-column expressions rather than one per column: polars' per-expression
    # overhead dominates for one applicant's rows.
    exprs = [
        pl.col(cols).cast(pl.String).cast(dtype) if dtype == pl.String else pl.col(cols).cast(dtype)
        for dtype, cols in by_type.items()
    ]
    exprs += [pl.lit(None, dtype=schema[c]).alias(c) for c in missing]
    if exprs:
        frame = frame.with_columns(exprs)
    frame = frame.select(list(schema))
    floats = [c for c, dtype in schema.items() if dtype == pl.Float64]
    if frame.height <= _SMALL_FRAME:
        # fill_nan costs ~70 us a column whatever the height: only touch columns with NaN.
        has_nan = np.isnan(frame.select(floats).to_numpy()).any(axis=0)
        floats = [c for c, nan in zip(floats, has_nan, strict=True) if nan]
    return frame.with_columns(pl.col(floats).fill_nan(None)) if floats else frame


def _from_records(name: str, records: list[Mapping[str, Any]]) -> pl.DataFrame:
    """Records (column -> value; absent or NaN = missing) straight into canonical types."""
    schema = _canonical_schema(name)
    data = {}
    for c, dtype in schema.items():
        values = [r.get(c) for r in records]
        if dtype == pl.Float64:
            values = [None if _missing(v) else float(v) for v in values]
        elif dtype == pl.String:
            values = [None if _missing(v) else str(v) for v in values]
        else:
            values = [None if _missing(v) else int(v) for v in values]
        data[c] = pl.Series(c, values, dtype=dtype)
    return pl.DataFrame(data)


_SMALL_FRAME = 10_000


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


@functools.cache
def _canonical_schema(name: str) -> dict[str, pl.DataType]:
    table = APPLICATION if name == "application" else TABLES[name]
    return {c.name: _dtype(c) for c in table.columns}


@functools.cache
def _empty(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=_canonical_schema(name))


def _dtype(column: Any) -> pl.DataType:
    if column.name in _KEYS:
        return pl.Int64()
    if column.kind is Kind.CATEGORY:
        return pl.String()
    return pl.Float64()


# --- the catalogue and the build ----------------------------------------------------------


@functools.cache
def feature_catalogue() -> tuple[FeatureSpec, ...]:
    """Every feature this code can build, in matrix order (before exclusions)."""
    empty = {name: normalize_table(name, None).lazy() for name in HISTORY_TABLES}
    specs = [f.spec for f in application_features()]
    for _, block_specs in history_blocks(empty):
        specs += block_specs
    specs += [f.spec for f in interaction_features()]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise RuntimeError("duplicate feature names in the catalogue")
    return tuple(specs)


def selected_specs(exclude: Sequence[str] = DEFAULT_EXCLUDED) -> tuple[FeatureSpec, ...]:
    """The catalogue less every feature derived from an excluded name."""
    excluded = set(exclude)
    return tuple(s for s in feature_catalogue() if not excluded.intersection(s.inputs))


def feature_names(exclude: Sequence[str] = DEFAULT_EXCLUDED) -> list[str]:
    return [s.name for s in selected_specs(exclude)]


def catalogue_digest(specs: Sequence[FeatureSpec]) -> str:
    """A short hash of the feature list (names, kinds, inputs), recorded in bundles."""
    payload = json.dumps([s.to_dict() for s in specs], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


@dataclass
class FeatureSet:
    """The model matrix and what goes with it, row-aligned.

    ``X`` is float32 with NaN for missing; ``protected`` holds CODE_GENDER and AGE_BAND
    (never model inputs by default) for fairness evaluation.
    """

    X: np.ndarray
    feature_names: list[str]
    specs: tuple[FeatureSpec, ...]
    ids: np.ndarray
    target: np.ndarray | None
    protected: pd.DataFrame
    excluded: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, rows: np.ndarray) -> FeatureSet:
        return FeatureSet(
            X=self.X[rows],
            feature_names=self.feature_names,
            specs=self.specs,
            ids=self.ids[rows],
            target=None if self.target is None else self.target[rows],
            protected=self.protected.iloc[rows].reset_index(drop=True),
            excluded=self.excluded,
        )

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self.X, columns=self.feature_names, index=self.ids)


def build_features(
    applications: FrameLike,
    history: Mapping[str, FrameLike] | None = None,
    *,
    exclude: Sequence[str] = DEFAULT_EXCLUDED,
) -> FeatureSet:
    """The model matrix of ``applications`` given their ``history`` tables.

    ``applications`` holds application rows (train or test schema; TARGET optional) as a
    pandas or polars frame or a list of records. ``history`` maps history table names to
    frames or records; absent tables count as empty. Rows come out in input order.
    """
    app = normalize_table("application", applications)
    history = history or {}
    specs = selected_specs(exclude)
    names = [s.name for s in specs]
    if all(_height(history.get(name)) == 0 for name in HISTORY_TABLES):
        # Nobody has history rows (a new applicant online): the history aggregates of
        # empty tables are the same every time, and computing them is a third of the cost.
        small = app.height < _SMALL_INPUT_ROWS
        return _assemble(app, _empty_history_aggregates(), names, specs, exclude, small=small)
    ids = app.select(KEY).lazy()
    tables: dict[str, pl.LazyFrame] = {}
    for name in HISTORY_TABLES:
        frame = normalize_table(name, history.get(name)).lazy()
        if name != "bureau_balance":
            # Only the applicants asked for: batch scoring a few rows against a big store.
            frame = frame.join(ids, on=KEY, how="semi", maintain_order="left")
        tables[name] = frame
    tables["bureau_balance"] = tables["bureau_balance"].join(
        tables["bureau"].select("SK_ID_BUREAU"), on="SK_ID_BUREAU", how="semi"
    )
    blocks = history_blocks(tables)
    # The optimiser pays off on big inputs; on one applicant's rows its planning costs more
    # than it saves. Same plan either way, so the results are the same.
    small = sum(_height(f) for f in history.values()) + app.height < _SMALL_INPUT_ROWS
    flags = pl.QueryOptFlags.none() if small else pl.QueryOptFlags()
    engine = "in-memory" if small else "auto"
    aggregated = pl.collect_all([b for b, _ in blocks], optimizations=flags, engine=engine)
    return _assemble(app, aggregated, names, specs, exclude, small=small)


@functools.cache
def _empty_history_aggregates() -> tuple[pl.DataFrame, ...]:
    """Every history block computed over empty tables (no rows, the right columns)."""
    tables = {name: _empty(name).lazy() for name in HISTORY_TABLES}
    blocks = history_blocks(tables)
    return tuple(pl.collect_all([b for b, _ in blocks], optimizations=pl.QueryOptFlags.none()))


def _assemble(
    app: pl.DataFrame,
    aggregated: Sequence[pl.DataFrame],
    names: list[str],
    specs: tuple[FeatureSpec, ...],
    exclude: Sequence[str],
    *,
    small: bool,
) -> FeatureSet:
    """Application features joined with the history aggregates, then the interactions."""
    flags = pl.QueryOptFlags.none() if small else pl.QueryOptFlags()
    engine = "in-memory" if small else "auto"
    plan = app.lazy().select(KEY, *[f.expr for f in application_features()])
    for part in aggregated:
        plan = plan.join(part.lazy(), on=KEY, how="left", maintain_order="left")
    frame = (
        plan.with_columns(pl.col(_zero_filled()).fill_null(0.0))
        .with_columns(f.expr for f in interaction_features())
        .select(pl.col(names).cast(pl.Float32))
        .collect(optimizations=flags, engine=engine)
    )
    X = np.ascontiguousarray(frame.to_numpy(), dtype=np.float32)
    X[~np.isfinite(X)] = np.nan
    target = None
    if app.get_column(TARGET).null_count() < app.height:
        target = app.get_column(TARGET).fill_null(-1).to_numpy().astype(np.int8)
    return FeatureSet(
        X=X,
        feature_names=names,
        specs=specs,
        ids=app.get_column(KEY).to_numpy(),
        target=target,
        protected=_protected(app),
        excluded=tuple(exclude),
    )


_SMALL_INPUT_ROWS = 50_000


def _height(data: FrameLike) -> int:
    if data is None or isinstance(data, pl.LazyFrame):
        return 0 if data is None else _SMALL_INPUT_ROWS
    return len(data)


@functools.cache
def _zero_filled() -> list[str]:
    """Counts and sums: 0 rather than missing for an applicant without rows in a table."""
    names = [s.name for s in feature_catalogue() if s.fill_value is not None]
    if any(s.fill_value != 0.0 for s in feature_catalogue() if s.fill_value is not None):
        raise RuntimeError("only 0 is supported as a fill value")
    return names


def fairness_age_band(days_birth: np.ndarray) -> np.ndarray:
    """The fairness age band (:data:`AGE_BANDS`) of each DAYS_BIRTH; '' where missing."""
    age = -np.asarray(days_birth, dtype=np.float64) / YEAR_DAYS
    out = np.full(age.shape, "", dtype=object)
    for label, low, high in AGE_BANDS:
        out[(age >= low) & (age < high)] = label
    return out


def _protected(app: pl.DataFrame) -> pd.DataFrame:
    """Fairness columns beside the matrix: gender (never a feature), the age band, and the
    raw age and family status the fair-lending audit groups by (its bands come from settings,
    so the age stays in years)."""
    gender = app.get_column("CODE_GENDER").to_list()
    family = app.get_column("NAME_FAMILY_STATUS").to_list()
    days_birth = app.get_column("DAYS_BIRTH").to_numpy()
    return pd.DataFrame(
        {
            "SK_ID_CURR": app.get_column(KEY).to_numpy(),
            "CODE_GENDER": ["" if g is None else g for g in gender],
            "AGE_BAND": fairness_age_band(days_birth),
            "AGE_YEARS": -np.asarray(days_birth, dtype=np.float64) / YEAR_DAYS,
            "NAME_FAMILY_STATUS": ["" if f is None else f for f in family],
        }
    )
