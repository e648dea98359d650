"""The pieces every feature module shares: the feature spec and a few polars helpers.

A feature is a polars expression plus a :class:`FeatureSpec` that says what it is, where it
comes from and how an explanation should name it. The expressions run identically on the
whole data set and on one applicant's rows, which is what makes the online row equal to the
batch row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

from scoring.ml.features.compiled import Rows, aggregate, compiled, with_columns

#: Days per month, for recency windows stated in months over DAYS_* columns.
DAYS_PER_MONTH = 30.4375
#: The recency windows (months) every history table is summarised over.
WINDOWS_MONTHS: tuple[int, ...] = (6, 12, 24)


class FeatureKind(StrEnum):
    NUMERIC = "numeric"  # a raw application number, unchanged (sentinels made missing)
    FLAG = "flag"  # 0/1
    CATEGORY_CODE = "category_code"  # index in the schema's fixed vocabulary; NaN = missing
    ONE_HOT = "one_hot"  # 1 when the category equals one vocabulary value
    RATIO = "ratio"  # a domain ratio or transform of application values
    COUNT = "count"  # a number of history rows / credits / months (0 without history)
    SHARE = "share"  # a fraction of history rows with a property (NaN without history)
    AGGREGATE = "aggregate"  # min / max / mean / sum / std of a history column
    INTERACTION = "interaction"  # one of the 20 named cross features


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the model matrix.

    ``inputs`` names what the feature is derived from: application columns (e.g.
    ``CODE_GENDER``) and history table names (e.g. ``bureau``). Excluding a name removes
    every feature whose inputs contain it, which is how protected attributes and anything
    derived from them stay out of the model.
    """

    name: str
    kind: FeatureKind
    source: str  # "application", a history table name, or "interaction"
    group: str  # the readable name an explanation groups this feature under
    inputs: tuple[str, ...]
    description: str
    #: Value for an applicant without rows in ``source`` (0 for counts and sums).
    fill_value: float | None = None
    #: For category codes and one-hots: the schema vocabulary (code i = vocabulary[i]).
    vocabulary: tuple[str, ...] = field(default=(), repr=False)
    dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": str(self.kind),
            "dtype": self.dtype,
            "source": self.source,
            "group": self.group,
            "inputs": list(self.inputs),
            "description": self.description,
            "fill_value": self.fill_value,
        }
        if self.vocabulary:
            out["vocabulary"] = list(self.vocabulary)
        return out


@dataclass(frozen=True)
class Feature:
    """A spec and its polars expression (aliased to ``spec.name``).

    For history features ``expr`` is a plain aggregation of a row-level column, and
    ``rows`` holds the row-level expressions that column needs (masked values, 0/1
    indicators). Computing those once per row and then aggregating plain columns keeps
    polars on its fast group-by path; a ``when/then`` inside an aggregation is evaluated
    group by group and costs ~30 us per feature even for one applicant.
    """

    spec: FeatureSpec
    expr: pl.Expr
    rows: tuple[pl.Expr, ...] = ()


def div(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, missing where the denominator is 0 or missing.

    A ratio to a zero amount carries no information a tree can use reliably, and an
    infinity would not survive the float32 matrix.
    """
    return pl.when(denominator != 0).then(numerator / denominator).otherwise(None)


def is_value(column: str, value: str) -> pl.Expr:
    """1.0 where a text column equals ``value``, 0.0 elsewhere (missing counts as 'not')."""
    return pl.col(column).eq_missing(pl.lit(value)).cast(pl.Float64)


def months_ago_filter(column: str, months: int, *, unit: str) -> pl.Expr:
    """True for rows within the last ``months`` months by a DAYS_* or MONTHS_* column."""
    if unit == "days":
        return pl.col(column) >= -months * DAYS_PER_MONTH
    return pl.col(column) >= -months


_AGGREGATIONS = {
    "mean": lambda e: e.mean(),
    "min": lambda e: e.min(),
    "max": lambda e: e.max(),
    "sum": lambda e: e.sum(),
    "std": lambda e: e.std(),
}
_AGG_WORDS = {
    "mean": "mean",
    "min": "minimum",
    "max": "maximum",
    "sum": "total",
    "std": "standard deviation",
}


def aggregates(
    *,
    prefix: str,
    source: str,
    columns: Mapping[str, Sequence[str]],
    scope: str,
    where: pl.Expr | None = None,
) -> list[Feature]:
    """``prefix_COLUMN_AGG`` features: each column aggregated per applicant.

    ``where`` restricts the rows (active credits, the last 12 months, ...). It is applied
    as ``when(where).then(column)`` rather than a filter, so the aggregation stays on polars'
    fast path; nulls are ignored by every aggregation, and a sum over no rows is 0.
    """
    out = []
    for column, aggs in columns.items():
        if where is None:
            rows: tuple[pl.Expr, ...] = ()
            values = pl.col(column)
        else:
            masked = f"_{prefix}__{column}"
            rows = (pl.when(where).then(pl.col(column)).alias(masked),)
            values = pl.col(masked)
        for agg in aggs:
            name = f"{prefix}_{column}_{agg.upper()}"
            out.append(
                Feature(
                    FeatureSpec(
                        name=name,
                        kind=FeatureKind.AGGREGATE,
                        source=source,
                        group=name,
                        inputs=(source,),
                        description=f"{_AGG_WORDS[agg]} of {column} over {scope}",
                        fill_value=0.0 if agg == "sum" else None,
                    ),
                    _AGGREGATIONS[agg](values).alias(name),
                    rows,
                )
            )
    return out


def count(name: str, source: str, description: str, expr: pl.Expr | None = None) -> Feature:
    """A count feature: rows (``pl.len()``) or the sum of a 0/1 expression."""
    spec = FeatureSpec(
        name, FeatureKind.COUNT, source, name, (source,), description, fill_value=0.0
    )
    if expr is None:
        return Feature(spec, pl.len().cast(pl.Float64).alias(name))
    row = f"_{name}"
    return Feature(spec, pl.col(row).sum().alias(name), (expr.cast(pl.Float64).alias(row),))


def nunique(name: str, source: str, description: str, column: str) -> Feature:
    """The number of distinct non-missing values of ``column`` (0 without history)."""
    return Feature(
        FeatureSpec(name, FeatureKind.COUNT, source, name, (source,), description, fill_value=0.0),
        pl.col(column).drop_nulls().n_unique().cast(pl.Float64).alias(name),
    )


def summary(
    name: str, source: str, description: str, fill_value: float | None = None
) -> FeatureSpec:
    """The spec of a hand-written aggregate (a count when it fills with 0)."""
    kind = FeatureKind.COUNT if fill_value == 0.0 else FeatureKind.AGGREGATE
    return FeatureSpec(name, kind, source, name, (source,), description, fill_value=fill_value)


def share(name: str, source: str, description: str, expr: pl.Expr) -> Feature:
    """The mean of a 0/1 expression: NaN for an applicant without rows."""
    row = f"_{name}"
    return Feature(
        FeatureSpec(name, FeatureKind.SHARE, source, name, (source,), description),
        pl.col(row).mean().alias(name),
        (expr.cast(pl.Float64).alias(row),),
    )


def category_shares(
    *, prefix: str, source: str, column: str, values: Iterable[str], scope: str
) -> list[Feature]:
    """The share of rows whose ``column`` equals each of ``values`` (a fixed vocabulary)."""
    return [
        share(
            f"{prefix}_{column}_{token(value)}_SHARE",
            source,
            f"share of {scope} with {column} = {value!r}",
            is_value(column, value),
        )
        for value in values
    ]


def token(value: str) -> str:
    """A vocabulary value as a feature-name fragment: upper case letters, digits and '_'.

    LightGBM and XGBoost refuse some characters in feature names; the mapping is checked
    to be collision-free for every vocabulary by a test.
    """
    out = "".join(ch if ch.isalnum() else "_" for ch in value.upper())
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_") or "EMPTY"


# --- per-applicant aggregation of a history table -----------------------------------------

KEY = "SK_ID_CURR"
Block = tuple[pl.LazyFrame, list[FeatureSpec]]


def aggregate_block(frame: pl.LazyFrame, features: list[Feature]) -> Block:
    """Row-level columns first (masked values, indicators), then plain aggregations."""
    rows = row_exprs(features)
    out = (
        (frame.with_columns(rows) if rows else frame).group_by(KEY).agg([f.expr for f in features])
    )
    return out, [f.spec for f in features]


def aggregate_one(rows: Rows, features: list[Feature]) -> dict[str, float]:
    """:func:`aggregate_block` over one applicant's rows, in numpy (see ``compiled.py``):
    the same row-level columns, then the same aggregations. No rows: every value missing
    (the batch build's left join gives null; counts and sums are zero-filled later)."""
    if rows.n == 0:
        return {f.spec.name: np.nan for f in features}
    rows = with_columns(rows, compiled(row_exprs(features)))
    values = aggregate(rows, compiled(feature_exprs(features)))
    return {name: float(v[0]) for name, v in values.items()}


_ROW_EXPRS: dict[int, list[pl.Expr]] = {}


def row_exprs(features: list[Feature]) -> list[pl.Expr]:
    """The distinct row-level expressions of a block (memoised: feature lists are cached)."""
    key = id(features)
    if key not in _ROW_EXPRS:
        seen: dict[str, pl.Expr] = {}
        for feature in features:
            for expr in feature.rows:
                seen.setdefault(expr.meta.output_name(), expr)
        _ROW_EXPRS[key] = list(seen.values())
    return _ROW_EXPRS[key]


_FEATURE_EXPRS: dict[int, list[pl.Expr]] = {}


def feature_exprs(features: list[Feature]) -> list[pl.Expr]:
    """The features' expressions as one list (memoised like :func:`row_exprs`, so the
    compiled form is built once)."""
    key = id(features)
    if key not in _FEATURE_EXPRS:
        _FEATURE_EXPRS[key] = [f.expr for f in features]
    return _FEATURE_EXPRS[key]
