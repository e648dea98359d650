"""The 20 named cross features: the strongest application signals crossed with affordability
and history behaviour, computed over columns the other blocks already built."""

from __future__ import annotations

import functools

import polars as pl

from scoring.ml.features.base import Feature, FeatureKind, FeatureSpec, div

_APP_EXT = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")


def _ix(
    name: str, family: str, inputs: tuple[str, ...], description: str, expr: pl.Expr
) -> tuple[str, str, tuple[str, ...], str, pl.Expr]:
    return name, family, inputs, description, expr


_c = pl.col
_EXT_MEAN = _c("EXT_SOURCE_MEAN")
_INCOME = _c("AMT_INCOME_TOTAL")

#: The 20 named cross features: (name, the family whose story it mostly carries (see
#: `families.py`), inputs, description, expression over built columns). They cross the
#: strongest application signals with affordability and history behaviour.
INTERACTIONS: tuple[tuple[str, str, tuple[str, ...], str, pl.Expr], ...] = (
    _ix(
        "IX_EXT2_X_EXT3",
        "EXTERNAL_SCORES",
        ("EXT_SOURCE_2", "EXT_SOURCE_3"),
        "EXT_SOURCE_2 x EXT_SOURCE_3",
        _c("EXT_SOURCE_2") * _c("EXT_SOURCE_3"),
    ),
    _ix(
        "IX_EXT1_X_EXT2",
        "EXTERNAL_SCORES",
        ("EXT_SOURCE_1", "EXT_SOURCE_2"),
        "EXT_SOURCE_1 x EXT_SOURCE_2",
        _c("EXT_SOURCE_1") * _c("EXT_SOURCE_2"),
    ),
    _ix(
        "IX_EXT_MEAN_X_AGE",
        "EXTERNAL_SCORES",
        (*_APP_EXT, "DAYS_BIRTH"),
        "EXT_SOURCE mean x age",
        _EXT_MEAN * _c("AGE_YEARS"),
    ),
    _ix(
        "IX_EXT_MEAN_X_CREDIT_TERM",
        "EXTERNAL_SCORES",
        (*_APP_EXT, "AMT_CREDIT", "AMT_ANNUITY"),
        "EXT_SOURCE mean x credit term",
        _EXT_MEAN * _c("CREDIT_TERM"),
    ),
    _ix(
        "IX_EXT_MEAN_PER_CREDIT_TO_INCOME",
        "CREDIT_TO_INCOME",
        (*_APP_EXT, "AMT_CREDIT", "AMT_INCOME_TOTAL"),
        "EXT_SOURCE mean / credit-to-income",
        div(_EXT_MEAN, _c("CREDIT_TO_INCOME")),
    ),
    _ix(
        "IX_EXT_MIN_X_ANNUITY_TO_INCOME",
        "ANNUITY_TO_INCOME",
        (*_APP_EXT, "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "lowest EXT_SOURCE x annuity-to-income",
        _c("EXT_SOURCE_MIN") * _c("ANNUITY_TO_INCOME"),
    ),
    _ix(
        "IX_EMPLOYED_TO_AGE_X_EXT_MEAN",
        "EMPLOYMENT",
        (*_APP_EXT, "DAYS_EMPLOYED", "DAYS_BIRTH"),
        "employment-to-age x EXT_SOURCE mean",
        _c("EMPLOYED_TO_AGE") * _EXT_MEAN,
    ),
    _ix(
        "IX_CREDIT_TO_INCOME_PER_AGE",
        "CREDIT_TO_INCOME",
        ("AMT_CREDIT", "AMT_INCOME_TOTAL", "DAYS_BIRTH"),
        "credit-to-income / age",
        div(_c("CREDIT_TO_INCOME"), _c("AGE_YEARS")),
    ),
    _ix(
        "IX_BURO_ACTIVE_DEBT_TO_INCOME",
        "BUREAU_DEBT",
        ("bureau", "AMT_INCOME_TOTAL"),
        "active bureau debt / income",
        div(_c("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM"), _INCOME),
    ),
    _ix(
        "IX_BURO_ANNUITY_LOAD",
        "ANNUITY_TO_INCOME",
        ("bureau", "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "(active bureau annuities + this annuity) / income",
        div(_c("BURO_ACT_AMT_ANNUITY_SUM") + _c("AMT_ANNUITY"), _INCOME),
    ),
    _ix(
        "IX_BURO_ACTIVE_CREDIT_TO_CREDIT",
        "BUREAU_DEBT",
        ("bureau", "AMT_CREDIT"),
        "active bureau credit / this credit",
        div(_c("BURO_ACT_AMT_CREDIT_SUM_SUM"), _c("AMT_CREDIT")),
    ),
    _ix(
        "IX_BURO_DPD_SHARE_X_EXT_MEAN",
        "BUREAU_OVERDUE",
        ("bureau", "bureau_balance", *_APP_EXT),
        "bureau months past due share x EXT_SOURCE mean",
        _c("BB_DPD_SHARE_ALL") * _EXT_MEAN,
    ),
    _ix(
        "IX_PREV_REFUSED_SHARE_X_EXT_MEAN",
        "PREVIOUS_REFUSED",
        ("previous_application", *_APP_EXT),
        "refused share of previous applications x EXT_SOURCE mean",
        _c("PREV_NAME_CONTRACT_STATUS_REFUSED_SHARE") * _EXT_MEAN,
    ),
    _ix(
        "IX_PREV_APPROVED_CREDIT_TO_CREDIT",
        "PREVIOUS_APPLICATIONS",
        ("previous_application", "AMT_CREDIT"),
        "mean approved previous credit / this credit",
        div(_c("PREV_APR_AMT_CREDIT_MEAN"), _c("AMT_CREDIT")),
    ),
    _ix(
        "IX_PREV_ANNUITY_TO_ANNUITY",
        "PREVIOUS_APPLICATIONS",
        ("previous_application", "AMT_ANNUITY"),
        "mean previous annuity / this annuity",
        div(_c("PREV_AMT_ANNUITY_MEAN"), _c("AMT_ANNUITY")),
    ),
    _ix(
        "IX_INST_LATE_X_ANNUITY_TO_INCOME",
        "INSTALMENTS_LATE",
        ("installments_payments", "AMT_ANNUITY", "AMT_INCOME_TOTAL"),
        "late instalment share x annuity-to-income",
        _c("INST_LATE_MEAN") * _c("ANNUITY_TO_INCOME"),
    ),
    _ix(
        "IX_INST_LATE_12M_X_EXT_MEAN",
        "INSTALMENTS_LATE_RECENT",
        ("installments_payments", *_APP_EXT),
        "late share in the last 12 months x EXT_SOURCE mean",
        _c("INST_12M_LATE_MEAN") * _EXT_MEAN,
    ),
    _ix(
        "IX_POS_DPD_SHARE_X_CREDIT_TO_INCOME",
        "POS_LATE",
        ("POS_CASH_balance", "AMT_CREDIT", "AMT_INCOME_TOTAL"),
        "POS months past due share x credit-to-income",
        _c("POS_DPD_FLAG_MEAN") * _c("CREDIT_TO_INCOME"),
    ),
    _ix(
        "IX_CC_UTIL_X_ATM_MONTHS",
        "CARD_UTILISATION",
        ("credit_card_balance",),
        "card utilisation x share of months with ATM drawings",
        _c("CC_UTIL_MEAN") * _c("CC_ATM_MONTH_MEAN"),
    ),
    _ix(
        "IX_TOTAL_DEBT_TO_INCOME",
        "TOTAL_DEBT",
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
def interaction_features() -> list[Feature]:
    return [
        Feature(
            FeatureSpec(name, FeatureKind.INTERACTION, "interaction", name, inputs, text),
            expr.cast(pl.Float64).alias(name),
        )
        for name, _family, inputs, text, expr in INTERACTIONS
    ]
