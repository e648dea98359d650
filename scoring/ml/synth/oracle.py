"""The synthetic data's true default probability ("oracle") and what it implies.

The generator draws, for every client, two hidden variables:

* a behaviour segment ``s`` in 0..4 (``SEGMENT_PRIOR``; ``SEGMENT_SCORE`` from good to bad);
  it shifts the EXT_SOURCE_* scores and drives the payment behaviour written in the
  history tables (late and short instalments, DPD, refusals, card use, bureau overdue);
* an activity level ``k`` in 0..2 whose distribution depends only on the age band
  (``ACTIVITY_BY_AGE_BAND``); it sets how many credits and applications the client has.

History rows depend on the application row **only through (s, k)**. The true probability is

    p = sigmoid(application_logit(application row) + history_logit(history aggregates,
                                                                    AMT_INCOME_TOTAL))

where both parts are smooth functions of values written in the tables (the history part of
per-client aggregates that any feature pipeline recomputes: shares of late / short
instalments, recent late share, refused applications, active bureau debt relative to income,
bureau and POS days past due, card utilisation and ATM drawings), with interactions.
TARGET ~ Bernoulli(p). Since p is a function of written values, a perfect model reaches the
oracle AUC.

The application-only oracle ``E[p | application row]`` is computed exactly up to a stated
Monte Carlo error: the posterior ``P(s, k | row)`` is closed-form (``P(k | age band)`` times a
Gaussian likelihood of the EXT_SOURCE latents, which are a bijection of the written scores),
and ``E[sigmoid(a + h) | s, k]`` is averaged over ``draws`` independent synthetic histories per
cell, tabulated on a grid of (application logit, log income) and interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from scoring.ml.schema.tables import DAYS_SENTINEL

SEGMENT_PRIOR = np.array([0.08, 0.24, 0.38, 0.22, 0.08])
SEGMENT_SCORE = np.array([-1.8, -0.9, 0.0, 0.9, 1.8])  # higher = worse behaviour
ACTIVITY_BY_AGE_BAND = np.array([[0.55, 0.33, 0.12], [0.30, 0.45, 0.25], [0.22, 0.45, 0.33]])
AGE_BANDS_YEARS = (30.0, 50.0)

#: EXT_SOURCE_k latent: e = -loading * score + age_slope * age_z + noise_sd * N(0, 1);
#: the written score is the fitted quantile function at Phi(e / total_sd).
EXT_LATENT = {
    "EXT_SOURCE_1": (0.55, 0.50, 0.80),
    "EXT_SOURCE_2": (0.45, 0.10, 0.85),
    "EXT_SOURCE_3": (0.60, 0.15, 0.80),
}
AGE_MEAN_YEARS, AGE_SD_YEARS = 43.5, 11.9

INTERCEPT = -4.18
#: Weights of the application and history parts (their raw scales were set for readability,
#: these bring the default rate to about 8% and the oracle AUC to about 0.81).
APPLICATION_WEIGHT = 0.58
HISTORY_WEIGHT = 0.45
DEBT_TO_INCOME = 0.30

_OCCUPATION_RISK = {
    "Low-skill Laborers": 0.45,
    "Drivers": 0.15,
    "Laborers": 0.12,
    "Security staff": 0.15,
    "Cooking staff": 0.15,
    "Waiters/barmen staff": 0.15,
    "Accountants": -0.2,
    "Managers": -0.1,
    "High skill tech staff": -0.1,
    "Core staff": -0.1,
}
_EDUCATION_RISK = {
    "Higher education": -0.3,
    "Academic degree": -0.4,
    "Lower secondary": 0.25,
    "Incomplete higher": 0.0,
}


def age_z(days_birth: np.ndarray) -> np.ndarray:
    return (-days_birth / 365.25 - AGE_MEAN_YEARS) / AGE_SD_YEARS


def activity_age_band(days_birth: np.ndarray) -> np.ndarray:
    """The oracle's age band index (0: under 30, 1: 30-49, 2: 50+), which sets the prior
    on credit activity; not the fairness report's labelled bands."""
    return np.searchsorted(np.array(AGE_BANDS_YEARS), -days_birth / 365.25)


def ext_total_sd(name: str) -> float:
    loading, slope, noise = EXT_LATENT[name]
    score_var = float(SEGMENT_PRIOR @ SEGMENT_SCORE**2 - (SEGMENT_PRIOR @ SEGMENT_SCORE) ** 2)
    return float(np.sqrt(loading**2 * score_var + slope**2 + noise**2))


def _col(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).to_numpy()


def application_logit(app: pl.DataFrame) -> np.ndarray:
    """The application part of the logit, from written application columns only."""
    ext = np.column_stack([_col(app, f"EXT_SOURCE_{i}") for i in (1, 2, 3)])
    n_ext = np.sum(~np.isnan(ext), axis=1)
    ext_mean = np.where(n_ext > 0, np.nansum(ext, axis=1) / np.maximum(n_ext, 1), 0.42)
    age = -_col(app, "DAYS_BIRTH") / 365.25
    young = 1.0 / (1.0 + np.exp((age - 32.0) / 4.0))
    credit = _col(app, "AMT_CREDIT")
    annuity = _col(app, "AMT_ANNUITY")
    goods = _col(app, "AMT_GOODS_PRICE")
    income = _col(app, "AMT_INCOME_TOTAL")
    employed_days = _col(app, "DAYS_EMPLOYED")
    employed_years = np.where(employed_days == DAYS_SENTINEL, np.nan, -employed_days / 365.25)
    term = np.where(np.isnan(annuity), 20.0, credit / np.where(annuity > 0, annuity, np.nan))
    term = np.nan_to_num(term, nan=20.0)
    payment_to_income = np.nan_to_num(annuity / income, nan=0.15)
    goods_ratio = np.nan_to_num(credit / goods, nan=1.1)
    phone_days = np.nan_to_num(-_col(app, "DAYS_LAST_PHONE_CHANGE"), nan=1000.0)

    raw = (
        -5.0 * (ext_mean - 0.5)
        + 4.0 * np.maximum(0.35 - ext_mean, 0.0) ** 2 * 10.0
        + 0.15 * (3 - n_ext)
        + 0.35 * young
        + 2.2 * young * np.maximum(0.45 - ext_mean, 0.0)
        + 0.06 * ((np.clip(term, 8.0, 45.0) - 22.0) / 6.0) ** 2
        - 0.12 * (np.clip(term, 8.0, 45.0) - 22.0) / 6.0
        + 1.6 * np.clip(payment_to_income - 0.18, 0.0, 0.5)
        + 0.8 * np.clip(goods_ratio - 1.1, 0.0, 0.4)
        + np.where(np.isnan(employed_years), -0.25, 0.45 * np.exp(-employed_years / 2.5))
        + 0.18 * np.exp(-phone_days / 400.0)
    )
    raw += _lookup(app, "NAME_EDUCATION_TYPE", _EDUCATION_RISK)
    raw += _lookup(app, "OCCUPATION_TYPE", _OCCUPATION_RISK)
    rating = _col(app, "REGION_RATING_CLIENT_W_CITY")
    raw += np.where(rating == 3, 0.3, np.where(rating == 1, -0.2, 0.0))
    contract = app.get_column("NAME_CONTRACT_TYPE").cast(pl.String)
    raw -= 0.3 * (contract == "Revolving loans").to_numpy()
    return INTERCEPT + APPLICATION_WEIGHT * raw


def _lookup(app: pl.DataFrame, column: str, table: dict[str, float]) -> np.ndarray:
    values = app.get_column(column).cast(pl.String)
    return (
        values.replace_strict(table, default=0.0, return_dtype=pl.Float64).fill_null(0.0).to_numpy()
    )


# --- history ------------------------------------------------------------------------------

AGGREGATES = (
    "inst_late_share",
    "inst_late_share_1y",
    "inst_short_share",
    "prev_refused",
    "prev_count",
    "bureau_active_debt",
    "bureau_overdue",
    "bureau_balance_dpd_share",
    "cc_utilisation",
    "cc_atm_share",
    "pos_dpd_share",
)


def history_aggregates(client_ids: np.ndarray, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per-client aggregates of the written history rows (one row per ``client_ids``).

    ``tables`` holds at least bureau, bureau_balance, previous_application,
    POS_CASH_balance, installments_payments and credit_card_balance for those clients.
    Clients without rows get 0 (and ``prev_count`` 0).
    """
    col = pl.col
    inst = tables["installments_payments"].lazy()
    inst_agg = inst.group_by("SK_ID_CURR").agg(
        (col("DAYS_ENTRY_PAYMENT") > col("DAYS_INSTALMENT")).mean().alias("inst_late_share"),
        (col("AMT_PAYMENT") < col("AMT_INSTALMENT")).mean().alias("inst_short_share"),
        (col("DAYS_ENTRY_PAYMENT") > col("DAYS_INSTALMENT"))
        .filter(col("DAYS_INSTALMENT") >= -365)
        .mean()
        .alias("inst_late_share_1y"),
    )
    prev = tables["previous_application"].lazy()
    prev_agg = prev.group_by("SK_ID_CURR").agg(
        (col("NAME_CONTRACT_STATUS").cast(pl.String) == "Refused").sum().alias("prev_refused"),
        pl.len().alias("prev_count"),
    )
    bureau = tables["bureau"].lazy()
    active = col("CREDIT_ACTIVE").cast(pl.String) == "Active"
    bureau_agg = bureau.group_by("SK_ID_CURR").agg(
        col("AMT_CREDIT_SUM_DEBT")
        .filter(active)
        .fill_null(0.0)
        .clip(0.0, None)
        .sum()
        .alias("bureau_active_debt"),
        ((col("AMT_CREDIT_SUM_OVERDUE") > 0) & active)
        .any()
        .cast(pl.Float64)
        .alias("bureau_overdue"),
    )
    balance = (
        tables["bureau_balance"]
        .lazy()
        .join(bureau.select("SK_ID_BUREAU", "SK_ID_CURR"), on="SK_ID_BUREAU")
    )
    balance_agg = balance.group_by("SK_ID_CURR").agg(
        col("STATUS")
        .cast(pl.String)
        .is_in(["1", "2", "3", "4", "5"])
        .mean()
        .alias("bureau_balance_dpd_share")
    )
    cards = tables["credit_card_balance"].lazy().filter(col("AMT_CREDIT_LIMIT_ACTUAL") > 0)
    card_agg = cards.group_by("SK_ID_CURR").agg(
        (col("AMT_BALANCE") / col("AMT_CREDIT_LIMIT_ACTUAL"))
        .clip(0.0, 1.5)
        .mean()
        .alias("cc_utilisation"),
        (col("AMT_DRAWINGS_ATM_CURRENT").fill_null(0.0) > 0).mean().alias("cc_atm_share"),
    )
    pos = tables["POS_CASH_balance"].lazy()
    pos_agg = pos.group_by("SK_ID_CURR").agg((col("SK_DPD") > 0).mean().alias("pos_dpd_share"))
    out = pl.LazyFrame({"SK_ID_CURR": client_ids})
    for part in (inst_agg, prev_agg, bureau_agg, balance_agg, card_agg, pos_agg):
        out = out.join(part, on="SK_ID_CURR", how="left", maintain_order="left")
    return out.with_columns(
        [col(name).cast(pl.Float64).fill_null(0.0) for name in AGGREGATES]
    ).collect()


@dataclass
class HistoryParts:
    """The history logit split so the cross term with income can be integrated over."""

    base: np.ndarray  # everything that does not involve the applicant's income
    debt: np.ndarray  # active bureau debt, enters as DEBT_TO_INCOME * log1p(debt / income)


def history_parts(aggregates: pl.DataFrame) -> HistoryParts:
    a = {name: aggregates.get_column(name).to_numpy() for name in AGGREGATES}
    late = a["inst_late_share"]
    refused = a["prev_refused"]
    utilisation = np.clip(a["cc_utilisation"], 0.0, 1.5)
    raw = (
        2.4 * np.sqrt(late)
        + 1.6 * a["inst_late_share_1y"]
        + 1.4 * a["inst_short_share"]
        + 0.45 * np.log1p(refused)
        + 0.9 * late * np.minimum(refused, 3.0)
        + 0.9 * a["bureau_overdue"]
        + 3.5 * np.sqrt(a["bureau_balance_dpd_share"])
        + 0.9 * utilisation**2
        + 0.8 * a["cc_atm_share"]
        + 1.2 * utilisation * a["cc_atm_share"]
        + 2.5 * np.sqrt(a["pos_dpd_share"])
        + 0.2 * (a["prev_count"] == 0)
    )
    return HistoryParts(base=HISTORY_WEIGHT * raw, debt=a["bureau_active_debt"])


def debt_term(debt: np.ndarray, income: np.ndarray) -> np.ndarray:
    return DEBT_TO_INCOME * np.log1p(debt / income)


def probability(app_logit: np.ndarray, parts: HistoryParts, income: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(app_logit + parts.base + debt_term(parts.debt, income))))


# --- application-only expectation ---------------------------------------------------------


def cell_posterior(ext_latent: dict[str, np.ndarray], days_birth: np.ndarray) -> np.ndarray:
    """P(segment, activity | application row), shape (n, 5, 3).

    ``ext_latent`` holds each EXT_SOURCE_k latent (NaN where the score is not written); the
    latent is a strictly increasing function of the written score, so conditioning on one is
    conditioning on the other.
    """
    z = age_z(days_birth)
    log_post = np.tile(np.log(SEGMENT_PRIOR), (z.size, 1))
    for name, (loading, slope, noise) in EXT_LATENT.items():
        e = ext_latent[name]
        seen = ~np.isnan(e)
        mean = -loading * SEGMENT_SCORE[None, :] + slope * z[:, None]
        ll = -0.5 * ((e[:, None] - mean) / noise) ** 2
        log_post += np.where(seen[:, None], ll, 0.0)
    log_post -= log_post.max(axis=1, keepdims=True)
    segment = np.exp(log_post)
    segment /= segment.sum(axis=1, keepdims=True)
    activity = ACTIVITY_BY_AGE_BAND[activity_age_band(days_birth)]
    return segment[:, :, None] * activity[:, None, :]


def expected_probability(
    app_logit: np.ndarray,
    income: np.ndarray,
    posterior: np.ndarray,
    reference: dict[tuple[int, int], HistoryParts],
    grid_a: int = 160,
    grid_x: int = 24,
) -> np.ndarray:
    """E[p | application row] = sum over cells of P(cell | row) * E[sigmoid(a + h) | cell].

    The inner expectation is the mean over the cell's reference histories, tabulated on a
    (application logit, log income) grid and bilinearly interpolated.
    """
    log_income = np.log(income)
    a_axis = np.linspace(app_logit.min() - 1e-6, app_logit.max() + 1e-6, grid_a)
    x_axis = np.linspace(log_income.min() - 1e-6, log_income.max() + 1e-6, grid_x)
    ia, wa = _bracket(a_axis, app_logit)
    ix, wx = _bracket(x_axis, log_income)
    out = np.zeros(app_logit.size)
    for (s, k), parts in reference.items():
        table = np.empty((grid_a, grid_x))
        for j, x in enumerate(x_axis):
            h = parts.base + debt_term(parts.debt, np.exp(x))
            table[:, j] = _mean_sigmoid(a_axis, h)
        value = (
            table[ia, ix] * (1 - wa) * (1 - wx)
            + table[ia + 1, ix] * wa * (1 - wx)
            + table[ia, ix + 1] * (1 - wa) * wx
            + table[ia + 1, ix + 1] * wa * wx
        )
        out += posterior[:, s, k] * value
    return out


def _mean_sigmoid(a_axis: np.ndarray, h: np.ndarray, block: int = 4096) -> np.ndarray:
    total = np.zeros(a_axis.size)
    for start in range(0, h.size, block):
        part = h[start : start + block]
        total += (1.0 / (1.0 + np.exp(-(a_axis[:, None] + part[None, :])))).sum(axis=1)
    return total / h.size


def _bracket(axis: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index = np.clip(np.searchsorted(axis, values) - 1, 0, axis.size - 2)
    weight = (values - axis[index]) / (axis[index + 1] - axis[index])
    return index, np.clip(weight, 0.0, 1.0)


def auc(target: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    return float(roc_auc_score(target, score))


__all__ = [
    "ACTIVITY_BY_AGE_BAND",
    "SEGMENT_PRIOR",
    "SEGMENT_SCORE",
    "HistoryParts",
    "application_logit",
    "auc",
    "cell_posterior",
    "expected_probability",
    "history_aggregates",
    "history_parts",
    "probability",
]
