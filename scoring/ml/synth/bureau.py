"""Synthetic bureau and bureau_balance rows.

Depends on the client only through the hidden (segment score, activity) pair, as the oracle
requires (see :mod:`scoring.ml.synth.oracle`). Consistency kept on purpose: a closed credit has
DAYS_ENDDATE_FACT between DAYS_CREDIT and 0 and is "C" in bureau_balance after that month;
balance months run from the credit's opening month to 0 (never before -96); a credit that is
overdue today shows days past due in its last balance month.
"""

from __future__ import annotations

import numpy as np

from scoring.ml.synth.base import (
    MONTH_DAYS,
    Columns,
    category,
    code,
    draw_index,
    group_positions,
    quantile,
    rate,
    sigmoid,
)

B = "bureau"
BB = "bureau_balance"
#: Mean number of bureau credits by activity level (before zero inflation).
BUREAU_MEAN = np.array([2.6, 5.0, 8.2])
BUREAU_NONE = 0.08
#: Share of bureau credits that come with a monthly balance history.
BALANCE_SHARE = 0.45
FIRST_ID = 5_000_000

_SUM_GROUP = {
    "Consumer credit": "consumer",
    "Another type of loan": "consumer",
    "Unknown type of loan": "consumer",
    "Cash loan (non-earmarked)": "consumer",
    "Interbank credit": "consumer",
    "Mobile operator loan": "micro",
    "Credit card": "card",
    "Car loan": "car",
    "Mortgage": "mortgage",
    "Real estate loan": "mortgage",
    "Microloan": "micro",
    "Loan for business development": "business",
    "Loan for working capital replenishment": "business",
    "Loan for the purchase of equipment": "business",
    "Loan for purchase of shares (margin lending)": "business",
}


def generate_bureau(
    rng: np.random.Generator,
    client_ids: np.ndarray,
    score: np.ndarray,
    activity: np.ndarray,
    first_id: int,
) -> tuple[Columns, Columns]:
    """bureau and bureau_balance columns for one chunk of clients."""
    n = client_ids.size
    mean = BUREAU_MEAN[activity] * np.exp(0.08 * score)
    counts = rng.poisson(rng.gamma(2.5, mean / 2.5))
    counts[rng.random(n) < BUREAU_NONE] = 0
    owner, _ = group_positions(counts)
    m = owner.size
    s = score[owner]
    overdue_propensity = sigmoid(-5.6 + 1.1 * s + 0.8 * rng.standard_normal(n)[owner])
    dpd_propensity = sigmoid(-4.1 + 1.0 * s + 0.9 * rng.standard_normal(n)[owner])

    cols: Columns = {
        "SK_ID_CURR": client_ids[owner],
        "SK_ID_BUREAU": first_id + np.arange(m, dtype=np.int64),
    }
    credit_type = category("bureau.CREDIT_TYPE", B, "CREDIT_TYPE", rng.random(m))
    cols["CREDIT_TYPE"] = credit_type
    cols["CREDIT_CURRENCY"] = category(
        "bureau.CREDIT_CURRENCY", B, "CREDIT_CURRENCY", rng.random(m)
    )
    days_credit = quantile("bureau.DAYS_CREDIT", rng.random(m)).round()
    cols["DAYS_CREDIT"] = days_credit.astype(np.int64)
    duration = quantile("bureau.duration", rng.random(m)).round()
    planned_end = days_credit + duration
    # A credit is still open if its planned end is ahead; a few stay open past it and a few
    # close early.
    open_now = np.where(planned_end > 0, rng.random(m) < 0.86, rng.random(m) < 0.07)
    sold = rng.random(m) < rate("bureau.sold") * np.exp(0.6 * s)
    status = np.where(
        open_now, code(B, "CREDIT_ACTIVE", "Active"), code(B, "CREDIT_ACTIVE", "Closed")
    )
    status = np.where(sold, code(B, "CREDIT_ACTIVE", "Sold"), status)
    bad_debt = rng.random(m) < 2e-5 * np.exp(s)
    status = np.where(bad_debt, code(B, "CREDIT_ACTIVE", "Bad debt"), status)
    cols["CREDIT_ACTIVE"] = status
    active = status == code(B, "CREDIT_ACTIVE", "Active")

    _dates(rng, cols, days_credit, planned_end, active)
    overdue_now = _amounts(rng, cols, credit_type, active, s, overdue_propensity)

    balance = _balance(rng, cols, active, overdue_now, dpd_propensity)
    return cols, balance


def _dates(
    rng: np.random.Generator,
    cols: Columns,
    days_credit: np.ndarray,
    planned_end: np.ndarray,
    active: np.ndarray,
) -> None:
    """When each credit ended (closed ones), is planned to end, and was last updated."""
    m, closed = active.size, ~active
    fact = days_credit + np.minimum(
        quantile("bureau.fact_duration", rng.random(m)).round(), -days_credit
    )
    cols["DAYS_ENDDATE_FACT"] = np.where(closed, np.minimum(fact, 0.0), np.nan)
    end_missing = rng.random(m) < np.where(
        active,
        rate("bureau.DAYS_CREDIT_ENDDATE.missing.active"),
        rate("bureau.DAYS_CREDIT_ENDDATE.missing.closed"),
    )
    cols["DAYS_CREDIT_ENDDATE"] = np.where(end_missing, np.nan, planned_end)
    update_active = np.maximum(quantile("bureau.update.active", rng.random(m)).round(), days_credit)
    update_closed = np.minimum(
        fact + quantile("bureau.update_after_fact", rng.random(m)).round(), 0.0
    )
    cols["DAYS_CREDIT_UPDATE"] = np.where(active, update_active, update_closed).astype(np.int64)


def _amounts(
    rng: np.random.Generator,
    cols: Columns,
    credit_type: np.ndarray,
    active: np.ndarray,
    s: np.ndarray,
    overdue_propensity: np.ndarray,
) -> np.ndarray:
    """Credit sums, debts, limits, overdue amounts and days, prolongations and annuities;
    returns which credits are overdue now."""
    m = active.size
    sums = np.zeros(m)
    for type_name, group in _SUM_GROUP.items():
        chosen = credit_type == code(B, "CREDIT_TYPE", type_name)
        if chosen.any():
            sums[chosen] = quantile(f"bureau.AMT_CREDIT_SUM.{group}", rng.random(int(chosen.sum())))
    sums = np.round(sums, 2)
    cols["AMT_CREDIT_SUM"] = sums
    card = credit_type == code(B, "CREDIT_TYPE", "Credit card")
    debt = np.where(
        active, np.round(sums * quantile("bureau.debt_fraction.active", rng.random(m)), 2), 0.0
    )
    overdue_now = active & (rng.random(m) < overdue_propensity)
    overdue_amount = np.round(np.maximum(debt, 0.1 * sums) * rng.uniform(0.01, 0.25, m), 2)
    cols["AMT_CREDIT_SUM_OVERDUE"] = np.where(overdue_now, overdue_amount, 0.0)
    days_overdue = quantile("bureau.CREDIT_DAY_OVERDUE.positive", rng.random(m)).round()
    cols["CREDIT_DAY_OVERDUE"] = np.where(overdue_now, np.maximum(days_overdue, 1), 0).astype(
        np.int64
    )
    limit = np.where(card & active, np.maximum(sums - debt, 0.0), 0.0)
    _missing(rng, cols, "AMT_CREDIT_SUM_DEBT", debt, active)
    _missing(rng, cols, "AMT_CREDIT_SUM_LIMIT", limit, active)
    had_overdue = overdue_now | (
        rng.random(m) < rate("bureau.max_overdue_positive") * np.exp(0.5 * s)
    )
    max_overdue = np.where(
        had_overdue,
        np.maximum(
            quantile("bureau.AMT_CREDIT_MAX_OVERDUE.positive", rng.random(m)),
            cols["AMT_CREDIT_SUM_OVERDUE"],
        ),
        0.0,
    )
    _missing(rng, cols, "AMT_CREDIT_MAX_OVERDUE", np.round(max_overdue, 3), active)
    values, index = draw_index("bureau.CNT_CREDIT_PROLONG", rng.random(m))
    cols["CNT_CREDIT_PROLONG"] = np.asarray(values, dtype=np.int64)[index]
    annuity = np.where(
        rng.random(m) < rate("bureau.annuity_positive"),
        np.round(quantile("bureau.AMT_ANNUITY.positive", rng.random(m)), 3),
        0.0,
    )
    _missing(rng, cols, "AMT_ANNUITY", annuity, active)
    return overdue_now


def _missing(
    rng: np.random.Generator, cols: Columns, name: str, values: np.ndarray, active: np.ndarray
) -> None:
    p = np.where(
        active, rate(f"bureau.{name}.missing.active"), rate(f"bureau.{name}.missing.closed")
    )
    cols[name] = np.where(rng.random(values.size) < p, np.nan, values)


def _balance(
    rng: np.random.Generator,
    bureau: Columns,
    active: np.ndarray,
    overdue_now: np.ndarray,
    dpd_propensity: np.ndarray,
) -> Columns:
    """Monthly statuses from the opening month to 0 for a share of the credits."""
    m = active.size
    reported = rng.random(m) < BALANCE_SHARE
    start = np.maximum(np.floor(bureau["DAYS_CREDIT"] / MONTH_DAYS), -96).astype(np.int64)
    months = np.where(reported, 1 - start, 0)
    credit, position = group_positions(months)
    month = start[credit] + position
    rows = credit.size
    fact = bureau["DAYS_ENDDATE_FACT"]
    closed_month = np.where(np.isnan(fact), 1, np.floor(np.nan_to_num(fact) / MONTH_DAYS)).astype(
        np.int64
    )

    status = np.full(rows, code(BB, "STATUS", "0"), dtype=np.int16)
    # Unknown ("X") stretches: the whole history for some credits, a leading run for others.
    all_unknown = rng.random(m) < 0.26
    unknown_until = np.where(
        rng.random(m) < 0.45, start + np.floor(rng.random(m) * months), start - 1
    )
    unknown = all_unknown[credit] | (month <= unknown_until[credit])
    status[unknown] = code(BB, "STATUS", "X")
    late = ~unknown & (rng.random(rows) < dpd_propensity[credit])
    depth = np.minimum(1 + rng.geometric(0.75, rows) - 1, 5)
    status[late] = np.array([code(BB, "STATUS", str(d)) for d in range(6)], dtype=np.int16)[
        depth[late]
    ]
    after_close = ~active[credit] & (month > closed_month[credit])
    status[after_close] = code(BB, "STATUS", "C")
    days_over = bureau["CREDIT_DAY_OVERDUE"]
    last = overdue_now[credit] & (month == 0)
    bucket = np.minimum(1 + days_over[credit] // 30, 5)
    status[last] = np.array([code(BB, "STATUS", str(d)) for d in range(6)], dtype=np.int16)[
        bucket[last]
    ]
    return {
        "SK_ID_BUREAU": bureau["SK_ID_BUREAU"][credit],
        "MONTHS_BALANCE": month,
        "STATUS": status,
    }
