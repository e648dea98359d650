"""Aggregates of the credit bureau's records (bureau) and their monthly statuses
(bureau_balance), per applicant."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from scoring.ml.features.base import (
    KEY,
    WINDOWS_MONTHS,
    Block,
    Feature,
    aggregate_block,
    aggregate_one,
    aggregates,
    category_shares,
    count,
    div,
    is_value,
    months_ago_filter,
    nunique,
    share,
)
from scoring.ml.features.compiled import (
    Rows,
    aggregate,
    compiled,
    group_by,
    left_join,
    with_columns,
)
from scoring.ml.schema.tables import (
    BUREAU_VOCABULARIES,
)

col = pl.col


_DPD_STATUSES = ["1", "2", "3", "4", "5"]


def _balance_per_credit(balance: pl.LazyFrame) -> pl.LazyFrame:
    """One row per bureau credit: its monthly status mix (bureau_balance)."""
    return balance.with_columns(_balance_rows()).group_by("SK_ID_BUREAU").agg(_balance_aggs())


@functools.cache
def _balance_rows() -> list[pl.Expr]:
    status = col("STATUS")
    return [
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
    ]


@functools.cache
def _balance_aggs() -> list[pl.Expr]:
    return [
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
    ]


def bureau_block(bureau: pl.LazyFrame, balance: pl.LazyFrame) -> Block:
    rows = bureau.join(
        _balance_per_credit(balance), on="SK_ID_BUREAU", how="left", maintain_order="left"
    ).with_columns(_bureau_rows())
    return aggregate_block(rows, _bureau_features())


def bureau_one(bureau: Rows, balance: Rows) -> dict[str, float]:
    """:func:`bureau_block` over one applicant's rows (numpy, same expressions)."""
    per_credit, groups, keys = group_by(
        with_columns(balance, compiled(_balance_rows())), ["SK_ID_BUREAU"]
    )
    credits = aggregate(per_credit, compiled(_balance_aggs()), groups)
    rows = left_join(bureau, "SK_ID_BUREAU", credits, [k[0] for k in keys])
    return aggregate_one(with_columns(rows, compiled(_bureau_rows())), _bureau_features())


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
    return aggregate_block(rows, _bureau_balance_features())


def bureau_balance_one(bureau: Rows, balance: Rows) -> dict[str, float]:
    """:func:`bureau_balance_block` over one applicant's rows: each month once per bureau
    row of its credit (the inner join; a null id matches nothing)."""
    credits = bureau.columns["SK_ID_BUREAU"]
    months = balance.columns["SK_ID_BUREAU"]
    matches = (months[:, None] == credits[None, :]).sum(axis=1)  # NaN equals nothing
    rows = balance.take(np.repeat(np.arange(balance.n), matches))
    return aggregate_one(rows, _bureau_balance_features())


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
