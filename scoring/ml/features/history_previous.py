"""Aggregates of the applicant's previous applications at Home Credit."""

from __future__ import annotations

import functools

import polars as pl

from scoring.ml.features.base import (
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
    share,
)
from scoring.ml.features.compiled import Rows, compiled, with_columns
from scoring.ml.schema.tables import (
    DAYS_SENTINEL,
    PREVIOUS_SENTINEL_COLUMNS,
    PREVIOUS_VOCABULARIES,
)

col = pl.col


def previous_block(previous: pl.LazyFrame) -> Block:
    rows = previous.with_columns(_previous_sentinels()).with_columns(_previous_rows())
    return aggregate_block(rows, _previous_features())


def previous_one(previous: Rows) -> dict[str, float]:
    """:func:`previous_block` over one applicant's rows (numpy, same expressions)."""
    rows = with_columns(previous, compiled(_previous_sentinels()))
    return aggregate_one(with_columns(rows, compiled(_previous_rows())), _previous_features())


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
