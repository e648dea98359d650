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
  (:mod:`scoring.ml.schema`), never by the values seen, so one applicant's row does not
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

from scoring.ml.features_base import (
    Feature,
    FeatureKind,
    FeatureSpec,
    div,
    is_value,
    token,
)
from scoring.ml.features_history import BLOCKS, KEY, history_blocks
from scoring.ml.schema import APPLICATION_VOCABULARIES, DAYS_SENTINEL, TABLES, TARGET, Kind

__all__ = [
    "AGE_BANDS",
    "DEFAULT_EXCLUDED",
    "FEATURE_VERSION",
    "HISTORY_TABLES",
    "INTERACTIONS",
    "FeatureKind",
    "FeatureSet",
    "FeatureSpec",
    "age_band",
    "build_features",
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
HISTORY_TABLES: tuple[str, ...] = (
    "bureau",
    "bureau_balance",
    "previous_application",
    "POS_CASH_balance",
    "installments_payments",
    "credit_card_balance",
)
_APPLICATION = TABLES["application_train"]  # test's columns plus TARGET
_KEYS = frozenset({"SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV"})
_YEAR = 365.25
#: One-hot columns only for small vocabularies; larger ones (ORGANIZATION_TYPE) get a code.
_MAX_ONE_HOT = 20

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
    table = _APPLICATION if name == "application" else TABLES[name]
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
    table = _APPLICATION if name == "application" else TABLES[name]
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


# --- application features -----------------------------------------------------------------

_EXT = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")
_DOCUMENTS = tuple(f"FLAG_DOCUMENT_{i}" for i in range(2, 22))
_CONTACT_FLAGS = ("FLAG_MOBIL", "FLAG_EMP_PHONE", "FLAG_WORK_PHONE", "FLAG_CONT_MOBILE")
_CONTACT_FLAGS += ("FLAG_PHONE", "FLAG_EMAIL")
_REGION_FLAGS = (
    "REG_REGION_NOT_LIVE_REGION",
    "REG_REGION_NOT_WORK_REGION",
    "LIVE_REGION_NOT_WORK_REGION",
    "REG_CITY_NOT_LIVE_CITY",
    "REG_CITY_NOT_WORK_CITY",
    "LIVE_CITY_NOT_WORK_CITY",
)
_BUREAU_REQUESTS = tuple(
    f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR")
)
_BUILDING = tuple(c for c in _APPLICATION.column_names if c.endswith(("_AVG", "_MODE", "_MEDI")))


def _app(name: str, kind: FeatureKind, expr: pl.Expr, inputs: Sequence[str], text: str) -> Feature:
    return Feature(
        FeatureSpec(name, kind, "application", name, tuple(inputs), text),
        expr.cast(pl.Float64).alias(name),
    )


def _employed_days() -> pl.Expr:
    # 365243 means "not employed" (pensioners, unemployed): missing, with its own flag.
    return pl.when(pl.col("DAYS_EMPLOYED") != DAYS_SENTINEL).then(pl.col("DAYS_EMPLOYED"))


@functools.cache
def _application_features() -> list[Feature]:
    out: list[Feature] = []
    col = pl.col
    for column in _APPLICATION.columns:
        if column.name in ("SK_ID_CURR", TARGET) or column.kind is Kind.CATEGORY:
            continue
        expr = _employed_days() if column.name == "DAYS_EMPLOYED" else col(column.name)
        out.append(
            _app(
                column.name,
                FeatureKind.NUMERIC,
                expr,
                (column.name,),
                f"application column {column.name}"
                + (" (365243 = not employed -> missing)" if column.name == "DAYS_EMPLOYED" else ""),
            )
        )
    for column_name, vocabulary in APPLICATION_VOCABULARIES.items():
        code = col(column_name).replace_strict(
            list(vocabulary), list(range(len(vocabulary))), default=None, return_dtype=pl.Float64
        )
        name = f"{column_name}_CODE"
        out.append(
            Feature(
                FeatureSpec(
                    name,
                    FeatureKind.CATEGORY_CODE,
                    "application",
                    column_name,
                    (column_name,),
                    f"{column_name} as its index in the schema vocabulary (missing/unknown = NaN)",
                    vocabulary=vocabulary,
                ),
                code.alias(name),
            )
        )
        if 2 < len(vocabulary) <= _MAX_ONE_HOT:
            for value in vocabulary:
                name = f"{column_name}_{token(value)}"
                out.append(
                    Feature(
                        FeatureSpec(
                            name,
                            FeatureKind.ONE_HOT,
                            "application",
                            column_name,
                            (column_name,),
                            f"1 if {column_name} is {value!r}",
                            vocabulary=vocabulary,
                        ),
                        is_value(column_name, value).alias(name),
                    )
                )
    ext = [col(c) for c in _EXT]
    ext_mean = pl.mean_horizontal(ext)
    n_ext = pl.sum_horizontal([e.is_not_null().cast(pl.Float64) for e in ext])
    ext_var = div(pl.sum_horizontal([(e - ext_mean) ** 2 for e in ext]), n_ext)
    employed = _employed_days()
    income, credit, annuity = col("AMT_INCOME_TOTAL"), col("AMT_CREDIT"), col("AMT_ANNUITY")
    goods, family = col("AMT_GOODS_PRICE"), col("CNT_FAM_MEMBERS")
    birth = col("DAYS_BIRTH")
    r = FeatureKind.RATIO
    out += [
        _app("AGE_YEARS", r, -birth / _YEAR, ("DAYS_BIRTH",), "age in years"),
        _app("EMPLOYED_YEARS", r, -employed / _YEAR, ("DAYS_EMPLOYED",), "years in current job"),
        _app(
            "NOT_EMPLOYED",
            FeatureKind.FLAG,
            col("DAYS_EMPLOYED") == DAYS_SENTINEL,
            ("DAYS_EMPLOYED",),
            "1 if DAYS_EMPLOYED = 365243 (pensioner or unemployed)",
        ),
        _app(
            "EMPLOYED_TO_AGE",
            r,
            div(employed, birth),
            ("DAYS_EMPLOYED", "DAYS_BIRTH"),
            "share of life in the current job (missing when not employed)",
        ),
        _app(
            "CREDIT_TO_INCOME",
            r,
            div(credit, income),
            ("AMT_CREDIT", "AMT_INCOME_TOTAL"),
            "credit / income",
        ),
        _app(
            "ANNUITY_TO_INCOME",
            r,
            div(annuity, income),
            ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
            "annuity / income",
        ),
        _app(
            "CREDIT_TO_GOODS",
            r,
            div(credit, goods),
            ("AMT_CREDIT", "AMT_GOODS_PRICE"),
            "credit / goods price",
        ),
        _app(
            "ANNUITY_TO_CREDIT",
            r,
            div(annuity, credit),
            ("AMT_ANNUITY", "AMT_CREDIT"),
            "annuity / credit (payment rate)",
        ),
        _app(
            "CREDIT_TERM",
            r,
            div(credit, annuity),
            ("AMT_CREDIT", "AMT_ANNUITY"),
            "credit / annuity (term in payments)",
        ),
        _app(
            "GOODS_TO_INCOME",
            r,
            div(goods, income),
            ("AMT_GOODS_PRICE", "AMT_INCOME_TOTAL"),
            "goods price / income",
        ),
        _app(
            "CREDIT_MINUS_GOODS",
            r,
            credit - goods,
            ("AMT_CREDIT", "AMT_GOODS_PRICE"),
            "credit above the goods price",
        ),
        _app(
            "INCOME_PER_PERSON",
            r,
            div(income, family),
            ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
            "income per family member",
        ),
        _app(
            "ANNUITY_PER_PERSON",
            r,
            div(annuity, family),
            ("AMT_ANNUITY", "CNT_FAM_MEMBERS"),
            "annuity per family member",
        ),
        _app(
            "INCOME_PER_CHILD",
            r,
            income / (1 + col("CNT_CHILDREN")),
            ("AMT_INCOME_TOTAL", "CNT_CHILDREN"),
            "income / (1 + children)",
        ),
        _app(
            "CHILDREN_RATIO",
            r,
            div(col("CNT_CHILDREN"), family),
            ("CNT_CHILDREN", "CNT_FAM_MEMBERS"),
            "children / family members",
        ),
        _app(
            "INCOME_LEFT_PER_PERSON",
            r,
            div(income - annuity, family),
            ("AMT_INCOME_TOTAL", "AMT_ANNUITY", "CNT_FAM_MEMBERS"),
            "(income - annuity) per family member",
        ),
        _app(
            "REGISTRATION_TO_AGE",
            r,
            div(col("DAYS_REGISTRATION"), birth),
            ("DAYS_REGISTRATION", "DAYS_BIRTH"),
            "registration change / age",
        ),
        _app(
            "ID_PUBLISH_TO_AGE",
            r,
            div(col("DAYS_ID_PUBLISH"), birth),
            ("DAYS_ID_PUBLISH", "DAYS_BIRTH"),
            "identity document change / age",
        ),
        _app(
            "PHONE_CHANGE_TO_AGE",
            r,
            div(col("DAYS_LAST_PHONE_CHANGE"), birth),
            ("DAYS_LAST_PHONE_CHANGE", "DAYS_BIRTH"),
            "phone change / age",
        ),
        _app(
            "PHONE_CHANGE_TO_EMPLOYED",
            r,
            div(col("DAYS_LAST_PHONE_CHANGE"), employed),
            ("DAYS_LAST_PHONE_CHANGE", "DAYS_EMPLOYED"),
            "phone change / time employed",
        ),
        _app(
            "CAR_AGE_TO_AGE",
            r,
            div(col("OWN_CAR_AGE") * _YEAR, -birth),
            ("OWN_CAR_AGE", "DAYS_BIRTH"),
            "car age / age",
        ),
        _app(
            "CAR_AGE_TO_EMPLOYED",
            r,
            div(col("OWN_CAR_AGE") * _YEAR, -employed),
            ("OWN_CAR_AGE", "DAYS_EMPLOYED"),
            "car age / time employed",
        ),
        _app("EXT_SOURCE_MEAN", r, ext_mean, _EXT, "mean of the available EXT_SOURCE scores"),
        _app("EXT_SOURCE_MIN", r, pl.min_horizontal(ext), _EXT, "lowest EXT_SOURCE score"),
        _app("EXT_SOURCE_MAX", r, pl.max_horizontal(ext), _EXT, "highest EXT_SOURCE score"),
        _app("EXT_SOURCE_STD", r, ext_var.sqrt(), _EXT, "spread of the EXT_SOURCE scores"),
        _app("EXT_SOURCE_PROD", r, ext[0] * ext[1] * ext[2], _EXT, "product of the EXT_SOURCEs"),
        _app(
            "EXT_SOURCE_NULLS",
            FeatureKind.COUNT,
            3 - n_ext,
            _EXT,
            "number of missing EXT_SOURCE scores",
        ),
        _app(
            "EXT_SOURCE_WEIGHTED",
            r,
            div(
                pl.sum_horizontal([e * w for e, w in zip(ext, (2.0, 1.0, 3.0), strict=True)]),
                pl.sum_horizontal(
                    [e.is_not_null() * w for e, w in zip(ext, (2.0, 1.0, 3.0), strict=True)]
                ),
            ),
            _EXT,
            "EXT_SOURCE mean weighted 2:1:3 over the available scores",
        ),
        _app(
            "DOCUMENT_COUNT",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _DOCUMENTS]),
            _DOCUMENTS,
            "number of documents provided",
        ),
        _app(
            "CONTACT_FLAGS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _CONTACT_FLAGS]),
            _CONTACT_FLAGS,
            "number of contact channels given",
        ),
        _app(
            "REGION_MISMATCHES",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _REGION_FLAGS]),
            _REGION_FLAGS,
            "number of home / work / registration address mismatches",
        ),
        _app(
            "BUREAU_REQUESTS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _BUREAU_REQUESTS]),
            _BUREAU_REQUESTS,
            "credit bureau enquiries over all periods",
        ),
        _app(
            "BUILDING_NULLS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c).is_null() for c in _BUILDING]),
            _BUILDING,
            "number of housing-building columns not filled in",
        ),
        _app(
            "SOCIAL_DEF30_RATIO",
            r,
            div(col("DEF_30_CNT_SOCIAL_CIRCLE"), col("OBS_30_CNT_SOCIAL_CIRCLE")),
            ("DEF_30_CNT_SOCIAL_CIRCLE", "OBS_30_CNT_SOCIAL_CIRCLE"),
            "defaults / observations in the social circle (30 days)",
        ),
        _app(
            "SOCIAL_DEF60_RATIO",
            r,
            div(col("DEF_60_CNT_SOCIAL_CIRCLE"), col("OBS_60_CNT_SOCIAL_CIRCLE")),
            ("DEF_60_CNT_SOCIAL_CIRCLE", "OBS_60_CNT_SOCIAL_CIRCLE"),
            "defaults / observations in the social circle (60 days)",
        ),
        _app(
            "REGION_RATING_GAP",
            r,
            col("REGION_RATING_CLIENT_W_CITY") - col("REGION_RATING_CLIENT"),
            ("REGION_RATING_CLIENT_W_CITY", "REGION_RATING_CLIENT"),
            "region rating with city minus without",
        ),
        _app(
            "INCOME_TO_REGION_POPULATION",
            r,
            income * col("REGION_POPULATION_RELATIVE"),
            ("AMT_INCOME_TOTAL", "REGION_POPULATION_RELATIVE"),
            "income scaled by the region's relative population",
        ),
    ]
    return out


# --- interactions -------------------------------------------------------------------------

_APP_EXT = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")


def _ix(
    name: str, inputs: tuple[str, ...], description: str, expr: pl.Expr
) -> tuple[str, tuple[str, ...], str, pl.Expr]:
    return name, inputs, description, expr


_c = pl.col
_EXT_MEAN = _c("EXT_SOURCE_MEAN")
_INCOME = _c("AMT_INCOME_TOTAL")

#: The 20 named cross features: (name, inputs, description, expression over built columns).
#: They cross the strongest application signals with affordability and history behaviour.
INTERACTIONS: tuple[tuple[str, tuple[str, ...], str, pl.Expr], ...] = (
    _ix(
        "IX_EXT2_X_EXT3",
        ("EXT_SOURCE_2", "EXT_SOURCE_3"),
        "EXT_SOURCE_2 x EXT_SOURCE_3",
        _c("EXT_SOURCE_2") * _c("EXT_SOURCE_3"),
    ),
    _ix(
        "IX_EXT1_X_EXT2",
        ("EXT_SOURCE_1", "EXT_SOURCE_2"),
        "EXT_SOURCE_1 x EXT_SOURCE_2",
        _c("EXT_SOURCE_1") * _c("EXT_SOURCE_2"),
    ),
    _ix(
        "IX_EXT_MEAN_X_AGE",
        (*_APP_EXT, "DAYS_BIRTH"),
        "EXT_SOURCE mean x age",
        _EXT_MEAN * _c("AGE_YEARS"),
    ),
    _ix(
        "IX_EXT_MEAN_X_CREDIT_TERM",
        (*_APP_EXT, "AMT_CREDIT", "AMT_ANNUITY"),
        "EXT_SOURCE mean x credit term",
        _EXT_MEAN * _c("CREDIT_TERM"),
    ),
    _ix(
        "IX_EXT_MEAN_PER_CREDIT_TO_INCOME",
        (*_APP_EXT, "AMT_CREDIT", "AMT_INCOME_TOTAL"),
        "EXT_SOURCE mean / credit-to-income",
        div(_EXT_MEAN, _c("CREDIT_TO_INCOME")),
    ),
    _ix(
        "IX_EXT_MIN_X_ANNUITY_TO_INCOME",
        (*_APP_EXT, "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "lowest EXT_SOURCE x annuity-to-income",
        _c("EXT_SOURCE_MIN") * _c("ANNUITY_TO_INCOME"),
    ),
    _ix(
        "IX_EMPLOYED_TO_AGE_X_EXT_MEAN",
        (*_APP_EXT, "DAYS_EMPLOYED", "DAYS_BIRTH"),
        "employment-to-age x EXT_SOURCE mean",
        _c("EMPLOYED_TO_AGE") * _EXT_MEAN,
    ),
    _ix(
        "IX_CREDIT_TO_INCOME_PER_AGE",
        ("AMT_CREDIT", "AMT_INCOME_TOTAL", "DAYS_BIRTH"),
        "credit-to-income / age",
        div(_c("CREDIT_TO_INCOME"), _c("AGE_YEARS")),
    ),
    _ix(
        "IX_BURO_ACTIVE_DEBT_TO_INCOME",
        ("bureau", "AMT_INCOME_TOTAL"),
        "active bureau debt / income",
        div(_c("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM"), _INCOME),
    ),
    _ix(
        "IX_BURO_ANNUITY_LOAD",
        ("bureau", "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "(active bureau annuities + this annuity) / income",
        div(_c("BURO_ACT_AMT_ANNUITY_SUM") + _c("AMT_ANNUITY"), _INCOME),
    ),
    _ix(
        "IX_BURO_ACTIVE_CREDIT_TO_CREDIT",
        ("bureau", "AMT_CREDIT"),
        "active bureau credit / this credit",
        div(_c("BURO_ACT_AMT_CREDIT_SUM_SUM"), _c("AMT_CREDIT")),
    ),
    _ix(
        "IX_BURO_DPD_SHARE_X_EXT_MEAN",
        ("bureau", "bureau_balance", *_APP_EXT),
        "bureau months past due share x EXT_SOURCE mean",
        _c("BB_DPD_SHARE_ALL") * _EXT_MEAN,
    ),
    _ix(
        "IX_PREV_REFUSED_SHARE_X_EXT_MEAN",
        ("previous_application", *_APP_EXT),
        "refused share of previous applications x EXT_SOURCE mean",
        _c("PREV_NAME_CONTRACT_STATUS_REFUSED_SHARE") * _EXT_MEAN,
    ),
    _ix(
        "IX_PREV_APPROVED_CREDIT_TO_CREDIT",
        ("previous_application", "AMT_CREDIT"),
        "mean approved previous credit / this credit",
        div(_c("PREV_APR_AMT_CREDIT_MEAN"), _c("AMT_CREDIT")),
    ),
    _ix(
        "IX_PREV_ANNUITY_TO_ANNUITY",
        ("previous_application", "AMT_ANNUITY"),
        "mean previous annuity / this annuity",
        div(_c("PREV_AMT_ANNUITY_MEAN"), _c("AMT_ANNUITY")),
    ),
    _ix(
        "IX_INST_LATE_X_ANNUITY_TO_INCOME",
        ("installments_payments", "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "late instalment share x annuity-to-income",
        _c("INST_LATE_MEAN") * _c("ANNUITY_TO_INCOME"),
    ),
    _ix(
        "IX_INST_LATE_12M_X_EXT_MEAN",
        ("installments_payments", *_APP_EXT),
        "late share in the last 12 months x EXT_SOURCE mean",
        _c("INST_12M_LATE_MEAN") * _EXT_MEAN,
    ),
    _ix(
        "IX_POS_DPD_SHARE_X_CREDIT_TO_INCOME",
        ("POS_CASH_balance", "AMT_CREDIT", "AMT_INCOME_TOTAL"),
        "POS months past due share x credit-to-income",
        _c("POS_DPD_FLAG_MEAN") * _c("CREDIT_TO_INCOME"),
    ),
    _ix(
        "IX_CC_UTIL_X_ATM_MONTHS",
        ("credit_card_balance",),
        "card utilisation x share of months with ATM drawings",
        _c("CC_UTIL_MEAN") * _c("CC_ATM_MONTH_MEAN"),
    ),
    _ix(
        "IX_TOTAL_DEBT_TO_INCOME",
        ("bureau", "credit_card_balance", "AMT_CREDIT", "AMT_INCOME_TOTAL"),
        "(active bureau debt + mean card balance + this credit) / income",
        div(
            _c("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM")
            + _c("CC_AMT_BALANCE_MEAN").fill_null(0.0)
            + _c("AMT_CREDIT"),
            _INCOME,
        ),
    ),
)


@functools.cache
def _interaction_features() -> list[Feature]:
    return [
        Feature(
            FeatureSpec(name, FeatureKind.INTERACTION, "interaction", name, inputs, text),
            expr.cast(pl.Float64).alias(name),
        )
        for name, inputs, text, expr in INTERACTIONS
    ]


# --- the catalogue and the build ----------------------------------------------------------


@functools.cache
def feature_catalogue() -> tuple[FeatureSpec, ...]:
    """Every feature this code can build, in matrix order (before exclusions)."""
    empty = {name: normalize_table(name, None).lazy() for name in HISTORY_TABLES}
    specs = [f.spec for f in _application_features()]
    for _, block_specs in history_blocks(empty):
        specs += block_specs
    specs += [f.spec for f in _interaction_features()]
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
    plan = app.lazy().select(KEY, *[f.expr for f in _application_features()])
    for part in aggregated:
        plan = plan.join(part.lazy(), on=KEY, how="left", maintain_order="left")
    frame = (
        plan.with_columns(pl.col(_zero_filled()).fill_null(0.0))
        .with_columns(f.expr for f in _interaction_features())
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


def age_band(days_birth: np.ndarray) -> np.ndarray:
    """The fairness age band (:data:`AGE_BANDS`) of each DAYS_BIRTH; '' where missing."""
    age = -np.asarray(days_birth, dtype=np.float64) / _YEAR
    out = np.full(age.shape, "", dtype=object)
    for label, low, high in AGE_BANDS:
        out[(age >= low) & (age < high)] = label
    return out


def _protected(app: pl.DataFrame) -> pd.DataFrame:
    gender = app.get_column("CODE_GENDER").to_list()
    return pd.DataFrame(
        {
            "SK_ID_CURR": app.get_column(KEY).to_numpy(),
            "CODE_GENDER": ["" if g is None else g for g in gender],
            "AGE_BAND": age_band(app.get_column("DAYS_BIRTH").to_numpy()),
        }
    )


def blocks_tables() -> list[tuple[str, ...]]:
    """The history tables each block reads (for documentation and tests)."""
    return [names for names, _ in BLOCKS]
