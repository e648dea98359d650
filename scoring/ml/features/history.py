"""Per-applicant aggregates of the six history tables.

Each ``*_block`` function takes the table(s) as polars LazyFrames (all numbers Float64, text
as String, keys Int64: see :func:`scoring.ml.features.build.normalize_table`) and returns one
LazyFrame keyed by SK_ID_CURR plus the specs of its columns, in a fixed order. The same
function runs on 58M rows and on one applicant's ten rows; nothing here depends on which
values happen to be present (vocabularies come from :mod:`scoring.ml.schema.tables`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import polars as pl

from scoring.ml.features.base import (
    WINDOWS_MONTHS,
    Feature,
    FeatureSpec,
    aggregates,
    category_shares,
    count,
    div,
    is_value,
    months_ago_filter,
    nunique,
    share,
    summary,
)
from scoring.ml.schema.tables import (
    BUREAU_VOCABULARIES,
    CREDIT_CARD_VOCABULARIES,
    DAYS_SENTINEL,
    POS_VOCABULARIES,
    PREVIOUS_SENTINEL_COLUMNS,
    PREVIOUS_VOCABULARIES,
)

KEY = "SK_ID_CURR"
col = pl.col

Block = tuple[pl.LazyFrame, list[FeatureSpec]]


def _aggregate(frame: pl.LazyFrame, features: list[Feature]) -> Block:
    """Row-level columns first (masked values, indicators), then plain aggregations."""
    rows = _row_exprs(features)
    out = (
        (frame.with_columns(rows) if rows else frame).group_by(KEY).agg([f.expr for f in features])
    )
    return out, [f.spec for f in features]


_ROW_EXPRS: dict[int, list[pl.Expr]] = {}


def _row_exprs(features: list[Feature]) -> list[pl.Expr]:
    """The distinct row-level expressions of a block (memoised: feature lists are cached)."""
    key = id(features)
    if key not in _ROW_EXPRS:
        seen: dict[str, pl.Expr] = {}
        for feature in features:
            for expr in feature.rows:
                seen.setdefault(expr.meta.output_name(), expr)
        _ROW_EXPRS[key] = list(seen.values())
    return _ROW_EXPRS[key]


# --- bureau and bureau_balance --------------------------------------------------------------

_DPD_STATUSES = ["1", "2", "3", "4", "5"]


def _balance_per_credit(balance: pl.LazyFrame) -> pl.LazyFrame:
    """One row per bureau credit: its monthly status mix (bureau_balance)."""
    status = col("STATUS")
    rows = balance.with_columns(
        status.is_in(_DPD_STATUSES).cast(pl.Float64).alias("_DPD"),
        pl.when(status.is_in(_DPD_STATUSES))
        .then(status.cast(pl.Int64, strict=False))
        .otherwise(0)
        .cast(pl.Float64)
        .alias("_BUCKET"),
        is_value("STATUS", "C").alias("_C"),
        is_value("STATUS", "X").alias("_X"),
        is_value("STATUS", "0").alias("_0"),
        pl.when(months_ago_filter("MONTHS_BALANCE", 12, unit="months"))
        .then(status.is_in(_DPD_STATUSES).cast(pl.Float64))
        .alias("_DPD_12M"),
    )
    return rows.group_by("SK_ID_BUREAU").agg(
        pl.len().cast(pl.Float64).alias("BB_MONTHS"),
        col("_DPD").mean().alias("BB_DPD_SHARE"),
        col("_BUCKET").max().alias("BB_WORST"),
        col("_C").mean().alias("BB_C_SHARE"),
        col("_X").mean().alias("BB_X_SHARE"),
        col("_0").mean().alias("BB_0_SHARE"),
        col("MONTHS_BALANCE").min().alias("BB_FIRST_MONTH"),
        col("_DPD_12M").sum().alias("BB_DPD_MONTHS_12M"),
        col("_BUCKET")
        .sort_by("MONTHS_BALANCE", maintain_order=True)
        .last()
        .alias("BB_LATEST_BUCKET"),
    )


def bureau_block(bureau: pl.LazyFrame, balance: pl.LazyFrame) -> Block:
    rows = bureau.join(
        _balance_per_credit(balance), on="SK_ID_BUREAU", how="left", maintain_order="left"
    ).with_columns(_bureau_rows())
    return _aggregate(rows, _bureau_features())


@functools.cache
def _bureau_rows() -> list[pl.Expr]:
    return [
        div(col("AMT_CREDIT_SUM_DEBT"), col("AMT_CREDIT_SUM")).alias("DEBT_TO_CREDIT"),
        div(col("AMT_CREDIT_SUM_OVERDUE"), col("AMT_CREDIT_SUM_DEBT")).alias("OVERDUE_TO_DEBT"),
        div(col("AMT_CREDIT_SUM_LIMIT"), col("AMT_CREDIT_SUM")).alias("LIMIT_TO_CREDIT"),
        (col("DAYS_CREDIT_ENDDATE") - col("DAYS_CREDIT")).alias("CREDIT_DURATION"),
        (col("DAYS_ENDDATE_FACT") - col("DAYS_CREDIT_ENDDATE")).alias("ENDDATE_GAP"),
        div(col("AMT_ANNUITY"), col("AMT_CREDIT_SUM")).alias("ANNUITY_TO_CREDIT"),
        (col("CREDIT_DAY_OVERDUE") > 0).cast(pl.Float64).alias("IS_OVERDUE"),
    ]


@functools.cache
def _bureau_features() -> list[Feature]:
    src = "bureau"
    active = is_value("CREDIT_ACTIVE", "Active") == 1
    closed = is_value("CREDIT_ACTIVE", "Closed") == 1
    features: list[Feature] = [
        count("BURO_COUNT", src, "number of credits reported by the bureau"),
        count("BURO_ACTIVE_COUNT", src, "number of active bureau credits", active),
        count("BURO_CLOSED_COUNT", src, "number of closed bureau credits", closed),
        count(
            "BURO_BAD_COUNT",
            src,
            "number of bureau credits sold or written off as bad debt",
            col("CREDIT_ACTIVE").is_in(["Sold", "Bad debt"]),
        ),
        share("BURO_ACTIVE_SHARE", src, "share of bureau credits still active", active),
        share(
            "BURO_FOREIGN_CURRENCY_SHARE",
            src,
            "share of bureau credits not in currency 1",
            col("CREDIT_CURRENCY").ne_missing(pl.lit("currency 1")),
        ),
        nunique(
            "BURO_CREDIT_TYPE_NUNIQUE", src, "number of distinct bureau credit types", "CREDIT_TYPE"
        ),
    ]
    features += category_shares(
        prefix="BURO",
        source=src,
        column="CREDIT_TYPE",
        values=[
            v
            for v in BUREAU_VOCABULARIES["CREDIT_TYPE"]
            if v
            in (
                "Consumer credit",
                "Credit card",
                "Car loan",
                "Mortgage",
                "Microloan",
                "Loan for business development",
                "Another type of loan",
            )
        ],
        scope="bureau credits",
    )
    features += aggregates(
        prefix="BURO",
        source=src,
        scope="all bureau credits",
        columns={
            "DAYS_CREDIT": ("min", "max", "mean", "std"),
            "CREDIT_DAY_OVERDUE": ("max", "mean"),
            "DAYS_CREDIT_ENDDATE": ("min", "max", "mean"),
            "DAYS_ENDDATE_FACT": ("min", "max", "mean"),
            "AMT_CREDIT_MAX_OVERDUE": ("max", "mean"),
            "CNT_CREDIT_PROLONG": ("sum", "max"),
            "AMT_CREDIT_SUM": ("max", "mean", "sum"),
            "AMT_CREDIT_SUM_DEBT": ("max", "mean", "sum"),
            "AMT_CREDIT_SUM_LIMIT": ("mean", "sum"),
            "AMT_CREDIT_SUM_OVERDUE": ("max", "mean", "sum"),
            "DAYS_CREDIT_UPDATE": ("min", "max", "mean"),
            "AMT_ANNUITY": ("max", "mean", "sum"),
            "DEBT_TO_CREDIT": ("mean", "max"),
            "OVERDUE_TO_DEBT": ("mean", "max"),
            "LIMIT_TO_CREDIT": ("mean",),
            "CREDIT_DURATION": ("mean", "max"),
            "ENDDATE_GAP": ("mean", "min", "max"),
            "ANNUITY_TO_CREDIT": ("mean",),
            "IS_OVERDUE": ("mean", "sum"),
            "BB_MONTHS": ("mean", "max", "sum"),
            "BB_DPD_SHARE": ("mean", "max"),
            "BB_WORST": ("max", "mean"),
            "BB_C_SHARE": ("mean",),
            "BB_X_SHARE": ("mean",),
            "BB_0_SHARE": ("mean",),
            "BB_FIRST_MONTH": ("min",),
            "BB_DPD_MONTHS_12M": ("sum", "max"),
            "BB_LATEST_BUCKET": ("max",),
        },
    )
    features += aggregates(
        prefix="BURO_ACT",
        source=src,
        scope="active bureau credits",
        where=active,
        columns={
            "DAYS_CREDIT": ("min", "max", "mean"),
            "CREDIT_DAY_OVERDUE": ("max", "mean"),
            "DAYS_CREDIT_ENDDATE": ("min", "max", "mean"),
            "AMT_CREDIT_MAX_OVERDUE": ("max", "mean"),
            "CNT_CREDIT_PROLONG": ("sum",),
            "AMT_CREDIT_SUM": ("max", "mean", "sum"),
            "AMT_CREDIT_SUM_DEBT": ("max", "mean", "sum"),
            "AMT_CREDIT_SUM_LIMIT": ("mean", "sum"),
            "AMT_CREDIT_SUM_OVERDUE": ("max", "mean", "sum"),
            "DAYS_CREDIT_UPDATE": ("min", "mean"),
            "AMT_ANNUITY": ("mean", "sum"),
            "DEBT_TO_CREDIT": ("mean", "max"),
            "OVERDUE_TO_DEBT": ("mean", "max"),
            "LIMIT_TO_CREDIT": ("mean",),
            "CREDIT_DURATION": ("mean",),
            "IS_OVERDUE": ("mean",),
            "BB_DPD_SHARE": ("mean", "max"),
            "BB_WORST": ("max",),
            "BB_MONTHS": ("mean",),
            "BB_DPD_MONTHS_12M": ("sum",),
        },
    )
    features += aggregates(
        prefix="BURO_CLS",
        source=src,
        scope="closed bureau credits",
        where=closed,
        columns={
            "DAYS_CREDIT": ("min", "max", "mean"),
            "DAYS_CREDIT_ENDDATE": ("max", "mean"),
            "DAYS_ENDDATE_FACT": ("min", "max", "mean"),
            "AMT_CREDIT_MAX_OVERDUE": ("max", "mean"),
            "CNT_CREDIT_PROLONG": ("sum",),
            "AMT_CREDIT_SUM": ("max", "mean", "sum"),
            "AMT_CREDIT_SUM_DEBT": ("mean", "sum"),
            "DAYS_CREDIT_UPDATE": ("mean",),
            "AMT_ANNUITY": ("mean",),
            "ENDDATE_GAP": ("mean", "min", "max"),
            "CREDIT_DURATION": ("mean",),
            "BB_DPD_SHARE": ("mean", "max"),
            "BB_WORST": ("max",),
            "BB_MONTHS": ("mean",),
        },
    )
    for months in WINDOWS_MONTHS:
        recent = months_ago_filter("DAYS_CREDIT", months, unit="days")
        features.append(
            count(
                f"BURO_OPENED_{months}M_COUNT",
                src,
                f"bureau credits opened in the last {months} months",
                recent,
            )
        )
        features += aggregates(
            prefix=f"BURO_{months}M",
            source=src,
            scope=f"bureau credits opened in the last {months} months",
            where=recent,
            columns={"AMT_CREDIT_SUM": ("sum",), "AMT_CREDIT_SUM_DEBT": ("sum",)},
        )
    return features


def bureau_balance_block(bureau: pl.LazyFrame, balance: pl.LazyFrame) -> Block:
    """The status mix of every month of every bureau credit, pooled per applicant."""
    rows = balance.join(
        bureau.select("SK_ID_BUREAU", KEY), on="SK_ID_BUREAU", how="inner", maintain_order="left"
    )
    return _aggregate(rows, _bureau_balance_features())


@functools.cache
def _bureau_balance_features() -> list[Feature]:
    src = "bureau_balance"
    dpd = col("STATUS").is_in(_DPD_STATUSES)
    features: list[Feature] = [
        count("BB_MONTHS_COUNT", src, "months of bureau credit history reported"),
        share("BB_DPD_SHARE_ALL", src, "share of bureau credit-months past due (status 1-5)", dpd),
        share(
            "BB_DPD60_SHARE_ALL",
            src,
            "share of bureau credit-months 60+ days past due (status 2-5)",
            col("STATUS").is_in(_DPD_STATUSES[1:]),
        ),
    ]
    features += category_shares(
        prefix="BB",
        source=src,
        column="STATUS",
        values=["0", "C", "X"],
        scope="bureau credit-months",
    )
    for months in WINDOWS_MONTHS:
        recent = months_ago_filter("MONTHS_BALANCE", months, unit="months")
        features.append(
            count(
                f"BB_DPD_{months}M_COUNT",
                src,
                f"bureau credit-months past due in the last {months} months",
                recent & dpd,
            )
        )
        features.append(
            share(
                f"BB_DPD_{months}M_SHARE",
                src,
                f"share of bureau credit-months past due in the last {months} months",
                pl.when(recent).then(dpd),
            )
        )
    return features


# --- previous applications -----------------------------------------------------------------


def previous_block(previous: pl.LazyFrame) -> Block:
    rows = previous.with_columns(_previous_sentinels()).with_columns(_previous_rows())
    return _aggregate(rows, _previous_features())


@functools.cache
def _previous_sentinels() -> list[pl.Expr]:
    return [
        pl.when(col(c) != DAYS_SENTINEL).then(col(c)).alias(c) for c in PREVIOUS_SENTINEL_COLUMNS
    ]


@functools.cache
def _previous_rows() -> list[pl.Expr]:
    return [
        div(col("AMT_APPLICATION"), col("AMT_CREDIT")).alias("APP_TO_CREDIT"),
        div(col("AMT_CREDIT"), col("AMT_GOODS_PRICE")).alias("CREDIT_TO_GOODS"),
        div(col("AMT_ANNUITY"), col("AMT_CREDIT")).alias("ANNUITY_TO_CREDIT"),
        div(col("AMT_ANNUITY") * col("CNT_PAYMENT"), col("AMT_CREDIT")).alias(
            "TOTAL_PAY_TO_CREDIT"
        ),
        (col("DAYS_LAST_DUE") - col("DAYS_LAST_DUE_1ST_VERSION")).alias("LAST_DUE_SHIFT"),
    ]


@functools.cache
def _previous_features() -> list[Feature]:
    src = "previous_application"
    approved = is_value("NAME_CONTRACT_STATUS", "Approved") == 1
    refused = is_value("NAME_CONTRACT_STATUS", "Refused") == 1
    features: list[Feature] = [
        count("PREV_COUNT", src, "number of previous Home Credit applications"),
        count("PREV_APPROVED_COUNT", src, "previous applications approved", approved),
        count("PREV_REFUSED_COUNT", src, "previous applications refused", refused),
    ]
    for column, values in (
        ("NAME_CONTRACT_STATUS", PREVIOUS_VOCABULARIES["NAME_CONTRACT_STATUS"]),
        ("NAME_CONTRACT_TYPE", ("Cash loans", "Consumer loans", "Revolving loans")),
        ("NAME_CLIENT_TYPE", ("New", "Refreshed", "Repeater")),
        ("NAME_YIELD_GROUP", PREVIOUS_VOCABULARIES["NAME_YIELD_GROUP"]),
        ("NAME_PORTFOLIO", ("Cards", "Cash", "POS", "XNA")),
        ("NAME_PRODUCT_TYPE", PREVIOUS_VOCABULARIES["NAME_PRODUCT_TYPE"]),
        ("CHANNEL_TYPE", PREVIOUS_VOCABULARIES["CHANNEL_TYPE"]),
        ("CODE_REJECT_REASON", ("HC", "LIMIT", "SCO", "SCOFR", "CLIENT", "VERIF")),
        ("NAME_PAYMENT_TYPE", ("Cash through the bank", "XNA")),
        ("FLAG_LAST_APPL_PER_CONTRACT", ("N",)),
    ):
        features += category_shares(
            prefix="PREV", source=src, column=column, values=values, scope="previous applications"
        )
    features += aggregates(
        prefix="PREV",
        source=src,
        scope="all previous applications",
        columns={
            "AMT_ANNUITY": ("min", "max", "mean"),
            "AMT_APPLICATION": ("min", "max", "mean"),
            "AMT_CREDIT": ("min", "max", "mean", "sum"),
            "AMT_DOWN_PAYMENT": ("max", "mean"),
            "AMT_GOODS_PRICE": ("min", "max", "mean"),
            "HOUR_APPR_PROCESS_START": ("mean",),
            "NFLAG_LAST_APPL_IN_DAY": ("mean",),
            "RATE_DOWN_PAYMENT": ("max", "mean"),
            "DAYS_DECISION": ("min", "max", "mean"),
            "CNT_PAYMENT": ("mean", "sum"),
            "SELLERPLACE_AREA": ("mean",),
            "DAYS_FIRST_DRAWING": ("min", "max"),
            "DAYS_FIRST_DUE": ("min", "max", "mean"),
            "DAYS_LAST_DUE_1ST_VERSION": ("min", "max", "mean"),
            "DAYS_LAST_DUE": ("max", "mean"),
            "DAYS_TERMINATION": ("max", "mean"),
            "NFLAG_INSURED_ON_APPROVAL": ("mean",),
            "APP_TO_CREDIT": ("min", "max", "mean", "std"),
            "CREDIT_TO_GOODS": ("mean",),
            "ANNUITY_TO_CREDIT": ("mean",),
            "TOTAL_PAY_TO_CREDIT": ("mean", "max"),
            "LAST_DUE_SHIFT": ("mean",),
        },
    )
    features += aggregates(
        prefix="PREV_APR",
        source=src,
        scope="approved previous applications",
        where=approved,
        columns={
            "AMT_ANNUITY": ("min", "max", "mean"),
            "AMT_APPLICATION": ("max", "mean"),
            "AMT_CREDIT": ("max", "mean", "sum"),
            "AMT_DOWN_PAYMENT": ("mean",),
            "AMT_GOODS_PRICE": ("mean",),
            "DAYS_DECISION": ("min", "max", "mean"),
            "CNT_PAYMENT": ("mean", "sum"),
            "APP_TO_CREDIT": ("min", "mean"),
            "TOTAL_PAY_TO_CREDIT": ("mean",),
            "DAYS_LAST_DUE_1ST_VERSION": ("max", "mean"),
            "DAYS_TERMINATION": ("max",),
            "LAST_DUE_SHIFT": ("mean",),
        },
    )
    features += aggregates(
        prefix="PREV_REF",
        source=src,
        scope="refused previous applications",
        where=refused,
        columns={
            "AMT_APPLICATION": ("max", "mean"),
            "AMT_CREDIT": ("max", "mean"),
            "DAYS_DECISION": ("max", "mean"),
            "CNT_PAYMENT": ("mean",),
            "APP_TO_CREDIT": ("mean",),
            "RATE_DOWN_PAYMENT": ("mean",),
        },
    )
    for months in WINDOWS_MONTHS:
        recent = months_ago_filter("DAYS_DECISION", months, unit="days")
        features += [
            count(
                f"PREV_{months}M_COUNT",
                src,
                f"previous applications decided in the last {months} months",
                recent,
            ),
            count(
                f"PREV_{months}M_REFUSED_COUNT",
                src,
                f"previous applications refused in the last {months} months",
                recent & refused,
            ),
            share(
                f"PREV_{months}M_REFUSED_SHARE",
                src,
                f"share refused among applications of the last {months} months",
                pl.when(recent).then(refused),
            ),
        ]
        features += aggregates(
            prefix=f"PREV_{months}M_APR",
            source=src,
            scope=f"previous applications approved in the last {months} months",
            where=recent & approved,
            columns={"AMT_CREDIT": ("sum",), "APP_TO_CREDIT": ("mean",)},
        )
    return features


# --- POS / cash balances -------------------------------------------------------------------


def pos_block(pos: pl.LazyFrame) -> Block:
    rows = pos.with_columns(_pos_rows())
    aggregated, specs = _aggregate(rows, _pos_features())
    latest_features = _pos_latest_features()
    # Each loan's latest month: how much is left to pay and whether it is finished.
    latest = (
        rows.group_by(KEY, "SK_ID_PREV")
        .agg(_pos_latest_rows())
        .group_by(KEY)
        .agg([f.expr for f in latest_features])
    )
    joined = aggregated.join(latest, on=KEY, how="left", maintain_order="left")
    return joined, specs + [f.spec for f in latest_features]


@functools.cache
def _pos_rows() -> list[pl.Expr]:
    return [
        (col("SK_DPD") > 0).cast(pl.Float64).alias("DPD_FLAG"),
        (col("SK_DPD_DEF") > 0).cast(pl.Float64).alias("DPD_DEF_FLAG"),
        div(col("CNT_INSTALMENT_FUTURE"), col("CNT_INSTALMENT")).alias("REMAIN_RATIO"),
    ]


@functools.cache
def _pos_features() -> list[Feature]:
    src = "POS_CASH_balance"
    features: list[Feature] = [
        count("POS_MONTHS_COUNT", src, "months of POS / cash loan balances"),
        nunique("POS_CONTRACTS_COUNT", src, "number of distinct POS / cash loans", "SK_ID_PREV"),
    ]
    features += category_shares(
        prefix="POS",
        source=src,
        column="NAME_CONTRACT_STATUS",
        values=[v for v in POS_VOCABULARIES["NAME_CONTRACT_STATUS"] if v != "XNA"],
        scope="POS / cash loan months",
    )
    features += aggregates(
        prefix="POS",
        source=src,
        scope="all POS / cash loan months",
        columns={
            "MONTHS_BALANCE": ("min", "max", "mean"),
            "CNT_INSTALMENT": ("mean", "max"),
            "CNT_INSTALMENT_FUTURE": ("mean", "max", "min"),
            "SK_DPD": ("max", "mean", "sum"),
            "SK_DPD_DEF": ("max", "mean", "sum"),
            "DPD_FLAG": ("mean", "sum"),
            "DPD_DEF_FLAG": ("mean",),
            "REMAIN_RATIO": ("mean", "min"),
        },
    )
    for months in WINDOWS_MONTHS:
        recent = months_ago_filter("MONTHS_BALANCE", months, unit="months")
        features.append(
            count(f"POS_{months}M_COUNT", src, f"POS / cash months in the last {months}", recent)
        )
        features += aggregates(
            prefix=f"POS_{months}M",
            source=src,
            scope=f"POS / cash loan months of the last {months} months",
            where=recent,
            columns={"SK_DPD": ("mean", "max"), "DPD_FLAG": ("mean",)},
        )
    return features


@functools.cache
def _pos_latest_rows() -> list[pl.Expr]:
    def last(expr: pl.Expr) -> pl.Expr:
        return expr.sort_by("MONTHS_BALANCE", maintain_order=True).last()

    return [
        last(col("CNT_INSTALMENT_FUTURE")).alias("FUTURE"),
        last(col("REMAIN_RATIO")).alias("RR"),
        last(is_value("NAME_CONTRACT_STATUS", "Completed")).alias("DONE"),
        last(col("SK_DPD")).alias("DPD"),
    ]


@functools.cache
def _pos_latest_features() -> list[Feature]:
    src = "POS_CASH_balance"
    return [
        Feature(
            summary(
                "POS_LATEST_FUTURE_SUM", src, "instalments left to pay on all POS / cash loans", 0.0
            ),
            col("FUTURE").sum().cast(pl.Float64).alias("POS_LATEST_FUTURE_SUM"),
        ),
        Feature(
            summary("POS_LATEST_REMAIN_RATIO_MEAN", src, "mean share of instalments left per loan"),
            col("RR").mean().alias("POS_LATEST_REMAIN_RATIO_MEAN"),
        ),
        Feature(
            summary("POS_LATEST_COMPLETED_SHARE", src, "share of POS / cash loans completed"),
            col("DONE").mean().alias("POS_LATEST_COMPLETED_SHARE"),
        ),
        Feature(
            summary("POS_LATEST_DPD_MAX", src, "largest days past due in any loan's latest month"),
            col("DPD").max().cast(pl.Float64).alias("POS_LATEST_DPD_MAX"),
        ),
    ]


# --- instalments ---------------------------------------------------------------------------


def installments_block(inst: pl.LazyFrame) -> Block:
    return _aggregate(inst.with_columns(_installments_rows()), _installments_features())


@functools.cache
def _installments_rows() -> list[pl.Expr]:
    late_days = col("DAYS_ENTRY_PAYMENT") - col("DAYS_INSTALMENT")
    return [
        late_days.clip(lower_bound=0).alias("DPD"),
        (-late_days).clip(lower_bound=0).alias("DBD"),
        (late_days > 0).cast(pl.Float64).alias("LATE"),
        (late_days > 30).cast(pl.Float64).alias("LATE_30"),
        div(col("AMT_PAYMENT"), col("AMT_INSTALMENT")).alias("PAY_RATIO"),
        (col("AMT_INSTALMENT") - col("AMT_PAYMENT")).alias("PAY_DIFF"),
        (col("AMT_PAYMENT") < col("AMT_INSTALMENT")).cast(pl.Float64).alias("UNDERPAID"),
        col("AMT_PAYMENT").is_null().cast(pl.Float64).alias("UNPAID"),
    ]


@functools.cache
def _installments_features() -> list[Feature]:
    src = "installments_payments"
    features: list[Feature] = [
        count("INST_COUNT", src, "number of instalment payment rows"),
        nunique(
            "INST_CONTRACTS_COUNT", src, "number of distinct credits with instalments", "SK_ID_PREV"
        ),
    ]
    features += aggregates(
        prefix="INST",
        source=src,
        scope="all instalment payments",
        columns={
            "NUM_INSTALMENT_VERSION": ("max", "mean"),
            "NUM_INSTALMENT_NUMBER": ("max", "mean"),
            "DPD": ("max", "mean", "sum", "std"),
            "DBD": ("max", "mean", "sum"),
            "LATE": ("mean", "sum"),
            "LATE_30": ("mean", "sum"),
            "PAY_RATIO": ("min", "max", "mean", "std"),
            "PAY_DIFF": ("max", "mean", "sum"),
            "AMT_INSTALMENT": ("max", "mean", "sum"),
            "AMT_PAYMENT": ("min", "max", "mean", "sum"),
            "DAYS_ENTRY_PAYMENT": ("min", "max", "mean"),
            "DAYS_INSTALMENT": ("min", "max"),
            "UNDERPAID": ("mean", "sum"),
            "UNPAID": ("sum",),
        },
    )
    for months in WINDOWS_MONTHS:
        recent = months_ago_filter("DAYS_INSTALMENT", months, unit="days")
        features.append(
            count(
                f"INST_{months}M_COUNT",
                src,
                f"instalments due in the last {months} months",
                recent,
            )
        )
        features += aggregates(
            prefix=f"INST_{months}M",
            source=src,
            scope=f"instalments due in the last {months} months",
            where=recent,
            columns={
                "LATE": ("mean",),
                "DPD": ("mean", "max"),
                "PAY_RATIO": ("mean",),
                "UNDERPAID": ("mean",),
                "AMT_PAYMENT": ("sum",),
            },
        )
    return features


# --- credit cards --------------------------------------------------------------------------

#: Statuses too rare to be worth a share column (a handful of rows in the full data).
_RARE_CC_STATUS = ("Approved", "Refused")


def credit_card_block(cards: pl.LazyFrame) -> Block:
    return _aggregate(cards.with_columns(_credit_card_rows()), _credit_card_features())


@functools.cache
def _credit_card_rows() -> list[pl.Expr]:
    limit = col("AMT_CREDIT_LIMIT_ACTUAL")
    return [
        div(col("AMT_BALANCE"), limit).alias("UTIL"),
        div(col("AMT_DRAWINGS_CURRENT"), limit).alias("DRAW_TO_LIMIT"),
        div(col("AMT_PAYMENT_CURRENT"), col("AMT_INST_MIN_REGULARITY")).alias("PAY_TO_MIN"),
        div(col("AMT_PAYMENT_TOTAL_CURRENT"), col("AMT_BALANCE")).alias("PAY_TO_BALANCE"),
        div(col("AMT_DRAWINGS_ATM_CURRENT"), col("AMT_DRAWINGS_CURRENT")).alias("ATM_SHARE"),
        (col("AMT_DRAWINGS_ATM_CURRENT").fill_null(0.0) > 0).cast(pl.Float64).alias("ATM_MONTH"),
        div(col("AMT_TOTAL_RECEIVABLE"), limit).alias("RECEIVABLE_TO_LIMIT"),
        (col("SK_DPD") > 0).cast(pl.Float64).alias("DPD_FLAG"),
    ]


@functools.cache
def _credit_card_features() -> list[Feature]:
    src = "credit_card_balance"
    features: list[Feature] = [
        count("CC_MONTHS_COUNT", src, "months of credit card balances"),
        nunique("CC_CARDS_COUNT", src, "number of distinct credit cards", "SK_ID_PREV"),
    ]
    features += category_shares(
        prefix="CC",
        source=src,
        column="NAME_CONTRACT_STATUS",
        values=[
            v for v in CREDIT_CARD_VOCABULARIES["NAME_CONTRACT_STATUS"] if v not in _RARE_CC_STATUS
        ],
        scope="credit card months",
    )
    features += aggregates(
        prefix="CC",
        source=src,
        scope="all credit card months",
        columns={
            "MONTHS_BALANCE": ("min",),
            "AMT_BALANCE": ("max", "mean", "sum"),
            "AMT_CREDIT_LIMIT_ACTUAL": ("max", "mean"),
            "AMT_DRAWINGS_ATM_CURRENT": ("max", "mean", "sum"),
            "AMT_DRAWINGS_CURRENT": ("max", "mean", "sum"),
            "AMT_DRAWINGS_POS_CURRENT": ("max", "mean"),
            "AMT_DRAWINGS_OTHER_CURRENT": ("mean",),
            "AMT_INST_MIN_REGULARITY": ("max", "mean"),
            "AMT_PAYMENT_CURRENT": ("max", "mean", "sum"),
            "AMT_PAYMENT_TOTAL_CURRENT": ("mean", "sum"),
            "AMT_RECEIVABLE_PRINCIPAL": ("max", "mean"),
            "AMT_RECIVABLE": ("mean",),
            "AMT_TOTAL_RECEIVABLE": ("max", "mean"),
            "CNT_DRAWINGS_ATM_CURRENT": ("mean", "max"),
            "CNT_DRAWINGS_CURRENT": ("mean", "max"),
            "CNT_DRAWINGS_POS_CURRENT": ("mean", "max"),
            "CNT_DRAWINGS_OTHER_CURRENT": ("mean",),
            "CNT_INSTALMENT_MATURE_CUM": ("max", "mean"),
            "SK_DPD": ("max", "mean"),
            "SK_DPD_DEF": ("max", "mean"),
            "UTIL": ("max", "mean", "min"),
            "DRAW_TO_LIMIT": ("mean", "max"),
            "PAY_TO_MIN": ("mean", "min"),
            "PAY_TO_BALANCE": ("mean",),
            "ATM_SHARE": ("mean",),
            "ATM_MONTH": ("mean",),
            "RECEIVABLE_TO_LIMIT": ("mean",),
            "DPD_FLAG": ("mean",),
        },
    )
    for months in WINDOWS_MONTHS:
        features += aggregates(
            prefix=f"CC_{months}M",
            source=src,
            scope=f"credit card months of the last {months} months",
            where=months_ago_filter("MONTHS_BALANCE", months, unit="months"),
            columns={
                "UTIL": ("mean", "max"),
                "AMT_DRAWINGS_CURRENT": ("sum",),
                "SK_DPD": ("max",),
                "PAY_TO_MIN": ("mean",),
            },
        )
    return features


#: The history blocks in matrix order, with the tables each one reads.
BLOCKS: tuple[tuple[tuple[str, ...], Callable[..., Block]], ...] = (
    (("bureau", "bureau_balance"), bureau_block),
    (("bureau", "bureau_balance"), bureau_balance_block),
    (("previous_application",), previous_block),
    (("POS_CASH_balance",), pos_block),
    (("installments_payments",), installments_block),
    (("credit_card_balance",), credit_card_block),
)


def history_blocks(tables: Mapping[str, pl.LazyFrame]) -> list[Block]:
    """Every history block over ``tables`` (each a normalised LazyFrame, possibly empty)."""
    return [fn(*(tables[name] for name in names)) for names, fn in BLOCKS]
