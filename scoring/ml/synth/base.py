"""Building blocks of the synthetic generator: fitted marginals, sampling helpers, and
turning generated columns into Arrow tables of the exact Kaggle schema.

The fitted tables live in ``fitted.json`` next to this module (written once at
development time by :mod:`scoring.ml.synth.fit` from the real sample rows); the generator
needs nothing else at run time.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.special import ndtr

from scoring.ml.schema.tables import TABLES, Kind

FITTED_PATH = Path(__file__).with_name("fitted.json")
#: Days per month, to turn day offsets into MONTHS_BALANCE.
MONTH_DAYS = 30.4375

Columns = dict[str, np.ndarray]


@cache
def fitted() -> dict:
    return json.loads(FITTED_PATH.read_text())


@cache
def _quantile_knots(key: str) -> tuple[np.ndarray, np.ndarray]:
    us, xs = fitted()["quantiles"][key]
    return np.asarray(us, dtype=float), np.asarray(xs, dtype=float)


def quantile(key: str, u: np.ndarray) -> np.ndarray:
    """Values of the fitted quantile function ``key`` at probabilities ``u``."""
    us, xs = _quantile_knots(key)
    return np.interp(u, us, xs)


def quantile_atoms(key: str, u: np.ndarray) -> np.ndarray:
    """Like `quantile`, but each value moved to the nearest knot value: for a column that
    takes a few values only (the region's population share, one per region), so that the
    generated data has a limited set of values as the real data does."""
    _, xs = _quantile_knots(key)
    atoms = np.unique(xs)
    values = quantile(key, u)
    upper = np.clip(np.searchsorted(atoms, values), 1, len(atoms) - 1)
    lower = upper - 1
    nearer_upper = (atoms[upper] - values) < (values - atoms[lower])
    return atoms[np.where(nearer_upper, upper, lower)]


def inverse_quantile(key: str, x: np.ndarray) -> np.ndarray:
    """Probability of ``x`` under a strictly increasing fitted quantile function."""
    us, xs = _quantile_knots(key)
    return np.interp(x, xs, us)


def rate(key: str) -> float:
    return float(fitted()["rates"][key])


@cache
def _category_table(key: str, table: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    values, probs = fitted()["categories"][key]
    vocabulary = TABLES[table].column(column).vocabulary
    codes = np.array([-1 if v is None else vocabulary.index(v) for v in values], dtype=np.int16)
    cumulative = np.cumsum(probs, dtype=float)
    return codes, cumulative / cumulative[-1]


def category(key: str, table: str, column: str, u: np.ndarray) -> np.ndarray:
    """Codes (into the schema vocabulary; -1 = empty) drawn from a fitted frequency table.

    Values are ordered by frequency, so a uniform ``u`` that is correlated with a latent
    variable gives the most common values to one end of it.
    """
    codes, cumulative = _category_table(key, table, column)
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), codes.size - 1)
    return codes[index]


@cache
def _raw_values(key: str) -> tuple[list, np.ndarray]:
    values, probs = fitted()["categories"][key]
    cumulative = np.cumsum(probs, dtype=float)
    return values, cumulative / cumulative[-1]


def draw_index(key: str, u: np.ndarray) -> tuple[list, np.ndarray]:
    """Indices into the raw value list of a fitted frequency table (for combinations)."""
    values, cumulative = _raw_values(key)
    return values, np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)


def code(table: str, column: str, value: str) -> int:
    return TABLES[table].column(column).vocabulary.index(value)


def codes_for(table: str, column: str, values: list[str | None]) -> np.ndarray:
    vocabulary = TABLES[table].column(column).vocabulary
    return np.array([-1 if v is None else vocabulary.index(v) for v in values], dtype=np.int16)


def correlated_uniform(latent: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Uniforms whose normal scores have correlation ``rho`` with a standard-normal latent."""
    noise = rng.standard_normal(latent.shape)
    return ndtr(rho * latent + np.sqrt(1.0 - rho * rho) * noise)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def group_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of sizes ``counts``: each row's group index and its position in the group."""
    counts = counts.astype(np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(owner.size) - starts[owner]
    return owner, position


def to_arrow(table: str, columns: Columns) -> pa.Table:
    """An Arrow table in the schema's column order and types.

    Float NaN becomes null (an empty field); category codes -1 become null.
    """
    spec = TABLES[table]
    arrays = []
    for column in spec.columns:
        values = columns[column.name]
        if column.kind is Kind.INT:
            arrays.append(pa.array(values.astype(np.int64, copy=False)))
        elif column.kind is Kind.FLOAT:
            values = values.astype(np.float64, copy=False)
            arrays.append(pa.array(values, mask=np.isnan(values)))
        else:
            codes = values.astype(np.int32, copy=False)
            indices = pa.array(codes, mask=codes < 0)
            arrays.append(pa.DictionaryArray.from_arrays(indices, _dictionary(table, column.name)))
    return pa.Table.from_arrays(arrays, names=list(spec.column_names))


@cache
def _dictionary(table: str, column: str) -> pa.Array:
    return pa.array(TABLES[table].column(column).vocabulary, type=pa.string())


def round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step
