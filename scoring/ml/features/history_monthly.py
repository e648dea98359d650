"""Aggregates of the monthly histories: POS / cash balances, instalment payments and
credit-card balances."""

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
    feature_exprs,
    is_value,
    months_ago_filter,
    nunique,
    summary,
)
from scoring.ml.features.compiled import Rows, aggregate, compiled, group_by, with_columns
from scoring.ml.schema.tables import (
    CREDIT_CARD_VOCABULARIES,
    POS_VOCABULARIES,
)

col = pl.col


def pos_block(pos: pl.LazyFrame) -> Block:
    rows = pos.with_columns(_pos_rows())
    aggregated, specs = aggregate_block(rows, _pos_features())
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


def pos_one(pos: Rows) -> dict[str, float]:
    """:func:`pos_block` over one applicant's rows (numpy, same expressions)."""
    rows = with_columns(pos, compiled(_pos_rows()))
    out = aggregate_one(rows, _pos_features())
    latest_features = _pos_latest_features()
    if rows.n == 0:
        return out | {f.spec.name: np.nan for f in latest_features}
    loans, groups, _ = group_by(rows, ["SK_ID_PREV"])  # the applicant's key is the same
    per_loan = aggregate(loans, compiled(_pos_latest_rows()), groups)
    latest = aggregate(Rows(per_loan, groups.count), compiled(feature_exprs(latest_features)))
    return out | {name: float(v[0]) for name, v in latest.items()}


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
    return aggregate_block(inst.with_columns(_installments_rows()), _installments_features())


def installments_one(inst: Rows) -> dict[str, float]:
    """:func:`installments_block` over one applicant's rows (numpy, same expressions)."""
    rows = with_columns(inst, compiled(_installments_rows()))
    return aggregate_one(rows, _installments_features())


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
    return aggregate_block(cards.with_columns(_credit_card_rows()), _credit_card_features())


def credit_card_one(cards: Rows) -> dict[str, float]:
    """:func:`credit_card_block` over one applicant's rows (numpy, same expressions)."""
    rows = with_columns(cards, compiled(_credit_card_rows()))
    return aggregate_one(rows, _credit_card_features())


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
