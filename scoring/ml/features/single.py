"""One applicant's model row, in numpy: the serving path for a single application.

:func:`scoring.ml.features.build.build_features` over one applicant's rows costs about 9 ms
without history and 20 ms with it, nearly all of it polars' fixed cost per query. This module
builds the same row from the same feature definitions, compiled once to numpy
(:mod:`scoring.ml.features.compiled`): the application features, each history block's
one-applicant form (``*_one`` beside each ``*_block``, reading the same expression lists),
then the interactions. The parity test holds it equal to the batch build's row for
thousands of generated applicants, with and without history.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from scoring.ml.data.history_index import TableColumns
from scoring.ml.features.application import application_features
from scoring.ml.features.base import feature_exprs
from scoring.ml.features.build import (
    DEFAULT_EXCLUDED,
    _canonical_schema,
    _missing,
    _zero_filled,
    selected_specs,
)
from scoring.ml.features.compiled import Rows, compiled, evaluate
from scoring.ml.features.history_bureau import bureau_balance_one, bureau_one
from scoring.ml.features.history_monthly import credit_card_one, installments_one, pos_one
from scoring.ml.features.history_previous import previous_one
from scoring.ml.features.interactions import interaction_features
from scoring.ml.schema.tables import HISTORY_TABLES

__all__ = ["history_values", "one_applicant_row", "table_rows", "variant_rows"]


def one_applicant_row(
    application: Mapping[str, Any],
    history: Mapping[str, Any] | None = None,
    *,
    exclude: Sequence[str] = DEFAULT_EXCLUDED,
    history_features: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The model row (float32, shape ``(1, features)``, NaN for missing) of one applicant.

    ``application`` maps application columns to values; ``history`` maps history table
    names to that applicant's rows (records, or a pandas or polars frame; absent tables are
    empty). Every history row is taken to be this applicant's; bureau_balance rows count
    through their SK_ID_BUREAU, as in the batch build. ``history_features``, when given, are
    :func:`history_values` of the history, built before (``history`` is then not read).
    """
    app = table_rows("application", [application])
    values = _scalars(evaluate(app, compiled(feature_exprs(application_features()))))
    values |= history_values(history) if history_features is None else history_features
    for name in _zero_filled():
        if values[name] != values[name]:
            values[name] = 0.0
    # One row: the interactions run over scalars (numpy's functions take them alike).
    built = Rows(values, 1)
    values |= _scalars(evaluate(built, compiled(feature_exprs(interaction_features()))))
    row = np.fromiter((values[n] for n in _names(tuple(exclude))), dtype=np.float64)
    return _model_rows(row[None, :])


def variant_rows(
    applications: Sequence[Mapping[str, Any]],
    history: Mapping[str, Any] | None = None,
    *,
    exclude: Sequence[str] = DEFAULT_EXCLUDED,
    history_features: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The model rows (float32, ``(len(applications), features)``) of variants of ONE
    applicant's application sharing that applicant's ``history`` (counteroffer candidates):
    row i is :func:`one_applicant_row` of ``applications[i]``, with the history's features
    built once for all of them and the application features and interactions over all rows
    at once, instead of a polars build of every row (~25 ms a search). ``history_features``
    as in :func:`one_applicant_row`."""
    n = len(applications)
    if n == 0:
        return np.empty((0, len(_names(tuple(exclude)))), dtype=np.float32)
    app = table_rows("application", applications)
    values = _columns(evaluate(app, compiled(feature_exprs(application_features()))), n)
    if history_features is None:
        history_features = history_values(history)
    for name, value in history_features.items():
        values[name] = np.full(n, value)
    for name in _zero_filled():
        values[name] = np.where(np.isnan(values[name]), 0.0, values[name])
    built = Rows(values, n)
    values |= _columns(evaluate(built, compiled(feature_exprs(interaction_features()))), n)
    return _model_rows(np.column_stack([values[name] for name in _names(tuple(exclude))]))


def history_values(history: Mapping[str, Any] | None) -> dict[str, Any]:
    """The history's features of one applicant (every table empty: the cached ones): the
    part of its model row that a counteroffer's variants share."""
    unknown = set(history or {}) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"unknown history tables: {sorted(unknown)}")
    tables = {name: table_rows(name, (history or {}).get(name)) for name in HISTORY_TABLES}
    if all(t.n == 0 for t in tables.values()):
        return _history_without_rows()
    return _history_values(tables)


def _model_rows(matrix: np.ndarray) -> np.ndarray:
    """float64 rows as the model reads them: float32, NaN for anything not finite."""
    with np.errstate(over="ignore"):
        out = matrix.astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out


def _columns(values: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    """Each value as a float64 column of ``n`` rows (a literal repeated)."""
    return {
        k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy() for k, v in values.items()
    }


def _scalars(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in values.items()}


@functools.cache
def _names(exclude: tuple[str, ...]) -> list[str]:
    return [s.name for s in selected_specs(exclude)]


def _history_values(tables: Mapping[str, Rows]) -> dict[str, float]:
    bureau, balance = tables["bureau"], tables["bureau_balance"]
    # Only months of this applicant's bureau credits (the batch build's semi-join).
    credits = bureau.columns["SK_ID_BUREAU"]
    balance = balance.take(np.flatnonzero(np.isin(balance.columns["SK_ID_BUREAU"], credits)))
    return (
        bureau_one(bureau, balance)
        | bureau_balance_one(bureau, balance)
        | previous_one(tables["previous_application"])
        | pos_one(tables["POS_CASH_balance"])
        | installments_one(tables["installments_payments"])
        | credit_card_one(tables["credit_card_balance"])
    )


@functools.cache
def _history_without_rows() -> dict[str, float]:
    return _history_values({name: table_rows(name, None) for name in HISTORY_TABLES})


# --- input --------------------------------------------------------------------------------


def table_rows(name: str, data: Any) -> Rows:
    """``data`` (records, a pandas or polars frame, the history index's `TableColumns`, or
    None) as :class:`Rows` with the schema's columns: numbers (keys too) float64 with NaN
    for missing, text as str or None.

    Values are converted as :func:`scoring.ml.features.build.normalize_table` converts them
    (``float(v)``, ``str(v)``; None, NaN and pd.NA are missing; absent columns missing).
    """
    schema = _canonical_schema(name)
    if data is None:
        return _empty_rows(name)
    if isinstance(data, TableColumns):  # already in this form: only absent columns to add
        return Rows(
            {
                c: data.columns[c] if c in data.columns else _column([None] * data.n, dtype)
                for c, dtype in schema.items()
            },
            data.n,
        )
    if isinstance(data, pl.DataFrame):
        data = data.to_pandas()
    if isinstance(data, pd.DataFrame):
        arrays = _frame_arrays(data)
        return Rows(
            {c: _array_column(arrays.get(c), dtype, len(data)) for c, dtype in schema.items()},
            len(data),
        )
    records = list(data)
    numbers, texts = _split_columns(name)
    try:
        # Every number column in one conversion (numpy converts as float(v), None -> NaN);
        # pd.NA and the like refuse, and take the per-column way below.
        matrix = np.array([[r.get(c) for c in numbers] for r in records], dtype=np.float64)
        columns = {c: matrix[:, j] for j, c in enumerate(numbers)} if records else {}
    except (TypeError, ValueError):
        columns = {c: _column([r.get(c) for r in records], pl.Float64()) for c in numbers}
    if not records:
        return _empty_rows(name)
    columns |= {c: _column([r.get(c) for r in records], pl.String()) for c in texts}
    return Rows({c: columns[c] for c in schema}, len(records))


@functools.cache
def _split_columns(name: str) -> tuple[list[str], list[str]]:
    schema = _canonical_schema(name)
    return (
        [c for c, dtype in schema.items() if dtype != pl.String],
        [c for c, dtype in schema.items() if dtype == pl.String],
    )


def _frame_arrays(data: pd.DataFrame) -> dict[str, Any]:
    """Each column's array. ``frame[c]`` builds a Series per column (~10 us each: 1.3 ms for
    one applicant's ~100 history columns, a fifth of the budget), so the arrays are read
    straight from the frame where pandas allows it."""
    names = [str(c) for c in data.columns]
    if hasattr(data, "_get_column_array"):
        return {c: data._get_column_array(i) for i, c in enumerate(names)}
    return {c: data.iloc[:, i].array for i, c in enumerate(names)}  # pragma: no cover


def _array_column(array: Any, dtype: pl.DataType, n: int) -> np.ndarray:
    if array is None:
        return _column([None] * n, dtype)
    if isinstance(array, pd.Categorical):
        labels = array.categories.to_numpy(dtype=object).tolist()
        codes = np.asarray(array.codes)  # -1 (missing) picks the last label: None
        values = np.array([*labels, None], dtype=object)[codes]
        return _column(values.tolist(), dtype)
    if dtype != pl.String and isinstance(array, np.ndarray) and array.dtype.kind in "fiub":
        return array.astype(np.float64)
    return _column(list(array), dtype)  # text, nullable or arrow numbers, objects


def _column(values: list[Any], dtype: pl.DataType) -> np.ndarray:
    if dtype == pl.String:
        if all(type(v) is str or v is None for v in values):
            return np.array(values, dtype=object)
        return np.array([None if _missing(v) else str(v) for v in values], dtype=object)
    try:
        # numpy converts as float(v) does, None included (-> NaN); pd.NA and the like
        # refuse, and take the long way.
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([np.nan if _missing(v) else float(v) for v in values], dtype=np.float64)


@functools.cache
def _empty_rows(name: str) -> Rows:
    schema = _canonical_schema(name)
    return Rows(
        {
            c: np.empty(0, dtype=object if dtype == pl.String else np.float64)
            for c, dtype in schema.items()
        },
        0,
    )
