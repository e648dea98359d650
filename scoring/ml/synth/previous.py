"""Synthetic previous_application rows, and the loan terms the monthly tables build on.

Each application draws a contract type and a status (refusals more likely for clients of a
worse behaviour segment), then a joint "profile" of the descriptive columns (portfolio,
product type, yield group, product combination, channel, payment type, reject reason,
seller industry, goods category, cash purpose) from the real combinations for that type and
status, so that for instance a refused application carries a reject reason and an approved
one XAP. Amounts follow Home Credit's pricing (annuity = credit x yield factor / number of
payments; revolving annuity 5% of the limit). Day columns of approved credits are
consistent: first due about 30 days after the decision, last due of the first version
30 x (payments - 1) days later, 365243 where an event has not happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.special import ndtr

from scoring.ml.schema.tables import DAYS_SENTINEL
from scoring.ml.synth.base import (
    MONTH_DAYS,
    Columns,
    category,
    code,
    codes_for,
    fitted,
    group_positions,
    quantile,
    rate,
    round_to,
    sigmoid,
)

P = "previous_application"
FIRST_ID = 1_000_001
#: Mean number of previous applications by activity level (before zero inflation).
PREVIOUS_MEAN = np.array([2.6, 4.8, 7.9])
PREVIOUS_NONE = 0.04
_LABELS = {
    "Cash loans": "cash",
    "Consumer loans": "consumer",
    "Revolving loans": "revolving",
    "XNA": "cash",
}
_STATUSES = ("Approved", "Canceled", "Refused", "Unused offer")
_TYPES = ("Cash loans", "Consumer loans", "Revolving loans", "XNA")
#: Share of (type, status) applications written with zero amounts (offers never filled in).
_ZERO_AMOUNT = {
    ("Cash loans", "Canceled"): 0.968,
    ("Cash loans", "Refused"): 0.164,
    ("Cash loans", "Unused offer"): 1.0,
    ("Consumer loans", "Canceled"): 0.81,
    ("Revolving loans", "Canceled"): 0.994,
    ("Revolving loans", "Refused"): 0.052,
    ("XNA", "Canceled"): 1.0,
    ("XNA", "Refused"): 1.0,
}


@dataclass
class Loans:
    """Approved credits that started, for the monthly tables (one entry per credit)."""

    row: np.ndarray  # index into the previous_application rows of the chunk
    revolving: np.ndarray
    decision: np.ndarray
    first_due: np.ndarray
    payments: np.ndarray  # CNT_PAYMENT (0 for cards)
    annuity: np.ndarray
    credit: np.ndarray
    instalments: np.ndarray  # instalments until the credit ends (cash / consumer)
    finished: np.ndarray
    last_due: np.ndarray  # day the credit ended (NaN if running)
    drawn: np.ndarray  # card was used


def generate_previous(
    rng: np.random.Generator,
    client_ids: np.ndarray,
    score: np.ndarray,
    activity: np.ndarray,
    first_id: int,
) -> tuple[Columns, np.ndarray, Loans]:
    """previous_application columns for one chunk, each row's client index, and the loans."""
    n = client_ids.size
    mean = PREVIOUS_MEAN[activity] * np.exp(0.1 * score)
    counts = rng.poisson(rng.gamma(2.0, mean / 2.0))
    counts[rng.random(n) < PREVIOUS_NONE] = 0
    owner, _ = group_positions(counts)
    m = owner.size
    refuse_shift = (0.85 * score + 0.6 * rng.standard_normal(n) - 0.25)[owner]
    cols: Columns = {
        "SK_ID_PREV": first_id + np.arange(m, dtype=np.int64),
        "SK_ID_CURR": client_ids[owner],
    }
    type_code = category("prev.NAME_CONTRACT_TYPE", P, "NAME_CONTRACT_TYPE", rng.random(m))
    cols["NAME_CONTRACT_TYPE"] = type_code
    status_code = _statuses(rng, type_code, refuse_shift)
    cols["NAME_CONTRACT_STATUS"] = status_code
    _profile(rng, cols, type_code, status_code)
    approved = status_code == code(P, "NAME_CONTRACT_STATUS", "Approved")
    decision = np.zeros(m)
    for type_name, label in _LABELS.items():
        for outcome, chosen in (("approved", approved), ("other", ~approved)):
            rows = (type_code == code(P, "NAME_CONTRACT_TYPE", type_name)) & chosen
            u = rng.random(int(rows.sum()))
            if label == "revolving" and outcome == "approved":
                # Cards stay open for years: reach further back, so that card months cover
                # the real card history lengths.
                u = u**2.0
            decision[rows] = quantile(f"prev.DAYS_DECISION.{label}.{outcome}", u)
    decision = decision.round()
    cols["DAYS_DECISION"] = decision.astype(np.int64)
    for name in (
        "WEEKDAY_APPR_PROCESS_START",
        "FLAG_LAST_APPL_PER_CONTRACT",
        "NAME_TYPE_SUITE",
        "NAME_CLIENT_TYPE",
    ):
        cols[name] = category(f"prev.{name}", P, name, rng.random(m))
    cols["HOUR_APPR_PROCESS_START"] = (
        quantile("prev.HOUR_APPR_PROCESS_START", rng.random(m)).round().astype(np.int64)
    )
    cols["NFLAG_LAST_APPL_IN_DAY"] = (rng.random(m) >= 0.0035).astype(np.int64)
    loans = _amounts_and_days(rng, cols, type_code, status_code, decision)
    return cols, owner, loans


def _statuses(rng: np.random.Generator, type_code: np.ndarray, shift: np.ndarray) -> np.ndarray:
    m = type_code.size
    probs = np.zeros((m, 4))
    for name in _TYPES[:3]:
        values, p = fitted()["categories"][f"prev.NAME_CONTRACT_STATUS.{name}"]
        row = np.array([p[values.index(s)] if s in values else 0.0 for s in _STATUSES])
        probs[type_code == code(P, "NAME_CONTRACT_TYPE", name)] = row / row.sum()
    probs[type_code == code(P, "NAME_CONTRACT_TYPE", "XNA")] = [0.0, 0.92, 0.08, 0.0]
    base = np.clip(probs[:, 2], 1e-4, 1 - 1e-4)
    refused = sigmoid(np.log(base / (1 - base)) + shift)
    refused = np.where(probs[:, 2] > 0, refused, 0.0)
    others = np.delete(probs, 2, axis=1)
    scale = (1 - refused) / np.maximum(others.sum(axis=1), 1e-12)
    probs = np.column_stack(
        [others[:, 0] * scale, others[:, 1] * scale, refused, others[:, 2] * scale]
    )
    cumulative = np.cumsum(probs, axis=1)
    pick = (rng.random(m)[:, None] > cumulative).sum(axis=1).clip(0, 3)
    return codes_for(P, "NAME_CONTRACT_STATUS", list(_STATUSES))[pick]


@cache
def _profile_table(type_name: str, status: str) -> tuple[np.ndarray, np.ndarray] | None:
    key = f"prev.profile.{type_name}.{status}"
    if key not in fitted()["categories"]:
        return None
    columns = fitted()["categories"]["prev.profile.columns"][0]
    rows, probs = fitted()["categories"][key]
    table = np.column_stack([codes_for(P, c, [r[i] for r in rows]) for i, c in enumerate(columns)])
    cumulative = np.cumsum(probs, dtype=float)
    return table, cumulative / cumulative[-1]


def _profile(
    rng: np.random.Generator, cols: Columns, type_code: np.ndarray, status_code: np.ndarray
) -> None:
    columns = fitted()["categories"]["prev.profile.columns"][0]
    m = type_code.size
    out = np.full((m, len(columns)), -1, dtype=np.int16)
    for type_name in _TYPES:
        for status in _STATUSES:
            chosen = (type_code == code(P, "NAME_CONTRACT_TYPE", type_name)) & (
                status_code == code(P, "NAME_CONTRACT_STATUS", status)
            )
            if not chosen.any():
                continue
            found = _profile_table(type_name, status) or _profile_table(type_name, "Canceled")
            table, cumulative = found
            pick = np.minimum(
                np.searchsorted(cumulative, rng.random(int(chosen.sum())), side="right"),
                len(table) - 1,
            )
            out[chosen] = table[pick]
    for i, name in enumerate(columns):
        cols[name] = out[:, i]


def _amounts_and_days(
    rng: np.random.Generator,
    cols: Columns,
    type_code: np.ndarray,
    status_code: np.ndarray,
    decision: np.ndarray,
) -> Loans:
    m = type_code.size
    cash = type_code == code(P, "NAME_CONTRACT_TYPE", "Cash loans")
    consumer = type_code == code(P, "NAME_CONTRACT_TYPE", "Consumer loans")
    revolving = type_code == code(P, "NAME_CONTRACT_TYPE", "Revolving loans")
    approved = status_code == code(P, "NAME_CONTRACT_STATUS", "Approved")
    unused = status_code == code(P, "NAME_CONTRACT_STATUS", "Unused offer")
    zero_p = np.zeros(m)
    for (type_name, status), p in _ZERO_AMOUNT.items():
        zero_p[
            (type_code == code(P, "NAME_CONTRACT_TYPE", type_name))
            & (status_code == code(P, "NAME_CONTRACT_STATUS", status))
        ] = p
    zero = rng.random(m) < zero_p

    size = rng.standard_normal(m)
    size_u = ndtr(size)
    application = np.zeros(m)
    for type_name, label in (("Cash loans", "cash"), ("Consumer loans", "consumer")):
        for outcome, chosen in (("approved", approved), ("other", ~approved)):
            rows = (type_code == code(P, "NAME_CONTRACT_TYPE", type_name)) & chosen
            application[rows] = quantile(f"prev.AMT_APPLICATION.{label}.{outcome}", size_u[rows])
    ratio = np.where(
        cash,
        quantile("prev.CREDIT_RATIO.cash", rng.random(m)),
        quantile("prev.CREDIT_RATIO.consumer", rng.random(m)),
    )
    credit = np.round(application * ratio * 2) / 2
    card_limit = round_to(quantile("prev.AMT_CREDIT.revolving", rng.random(m)), 22500.0).clip(
        22500.0, None
    )
    card_application = np.where(rng.random(m) < 0.6, card_limit, 0.0)
    application = np.where(revolving, card_application, np.round(application, 1))
    credit = np.where(revolving, card_limit, credit)
    # Larger credits are repaid over more months.
    term_u = ndtr(0.7 * size + np.sqrt(0.51) * rng.standard_normal(m))
    payments = (
        np.where(
            cash,
            quantile("prev.CNT_PAYMENT.cash", term_u),
            quantile("prev.CNT_PAYMENT.consumer", term_u),
        )
        .round()
        .clip(1, 72)
    )
    payments = np.where(revolving, 0.0, payments)
    factor = np.ones(m)
    for group in ("high", "middle", "low_normal", "low_action"):
        chosen = cols["NAME_YIELD_GROUP"] == code(P, "NAME_YIELD_GROUP", group)
        factor[chosen] = quantile(f"prev.ANNUITY_FACTOR.{group}", rng.random(int(chosen.sum())))
    factor[cols["NAME_YIELD_GROUP"] == code(P, "NAME_YIELD_GROUP", "XNA")] = 1.2
    annuity = np.where(
        revolving, credit * 0.05, np.round(credit * factor / np.maximum(payments, 1), 3)
    )
    no_terms = zero | (unused & consumer & (rng.random(m) < 0.98))
    cols["AMT_APPLICATION"] = np.where(zero, 0.0, application)
    cols["AMT_CREDIT"] = np.where(zero, 0.0, credit)
    cols["AMT_ANNUITY"] = np.where(no_terms, np.nan, annuity)
    cols["CNT_PAYMENT"] = np.where(no_terms, np.nan, payments)
    goods = np.where(revolving & (application == 0), np.nan, application)
    cols["AMT_GOODS_PRICE"] = np.where(zero, np.nan, goods)
    down_rate = quantile("prev.RATE_DOWN_PAYMENT", rng.random(m))
    with_down = (consumer & ~zero) | (cash & approved & (rng.random(m) < 0.12))
    down_rate = np.where(consumer, down_rate, 0.0)
    cols["RATE_DOWN_PAYMENT"] = np.where(with_down, down_rate, np.nan)
    cols["AMT_DOWN_PAYMENT"] = np.where(with_down, np.round(down_rate * application, 3), np.nan)
    with_rate = cash & approved & (rng.random(m) < rate("prev.rate_interest.present") * 2.5)
    shared = rng.random(m)
    cols["RATE_INTEREST_PRIMARY"] = np.where(
        with_rate, quantile("prev.RATE_INTEREST_PRIMARY", shared), np.nan
    )
    cols["RATE_INTEREST_PRIVILEGED"] = np.where(
        with_rate, quantile("prev.RATE_INTEREST_PRIVILEGED", shared), np.nan
    )
    area = quantile("prev.SELLERPLACE_AREA.consumer", rng.random(m)).round()
    cols["SELLERPLACE_AREA"] = np.where(consumer, area, -1).astype(np.int64)
    return _days(rng, cols, decision, approved & ~zero, revolving, payments, annuity, credit)


def _days(
    rng: np.random.Generator,
    cols: Columns,
    decision: np.ndarray,
    granted: np.ndarray,
    revolving: np.ndarray,
    payments: np.ndarray,
    annuity: np.ndarray,
    credit: np.ndarray,
) -> Loans:
    """DAYS_* of approved credits (empty for the rest) and the loans that started."""
    m = decision.size
    started = granted & (rng.random(m) >= 0.04)
    first_due = decision + 30 + np.minimum(rng.geometric(0.35, m) - 1, 30)
    instalment = ~revolving
    # Cash / consumer: the schedule, possibly cut short by early repayment.
    planned_last = first_due + 30 * (payments - 1)
    early = rng.random(m) < rate("prev.early_repayment")
    instalments = np.where(early, np.ceil(rng.random(m) * payments), payments).clip(1, None)
    actual_last = first_due + 30 * (instalments - 1)
    finished = actual_last <= -2
    termination = actual_last + quantile("prev.termination_after_last_due", rng.random(m)).round()
    due_ahead = first_due >= -1
    # Cards: drawn or not, closed or running.
    drawn = rng.random(m) < 0.64
    first_drawing = decision + np.minimum(rng.geometric(0.12, m), 60)
    card_first_due = first_drawing + 30
    card_closed = drawn & (rng.random(m) < 0.23) & (card_first_due < -40)
    card_last = np.floor(card_first_due + rng.random(m) * (-1 - card_first_due))
    sentinel = float(DAYS_SENTINEL)

    def put(name: str, cash_value: np.ndarray, card_value: np.ndarray) -> None:
        values = np.where(revolving, card_value, cash_value)
        cols[name] = np.where(started, values, np.nan)

    put(
        "DAYS_FIRST_DRAWING",
        np.full(m, sentinel),
        np.where(drawn, np.minimum(first_drawing, -1), sentinel),
    )
    put(
        "DAYS_FIRST_DUE",
        np.where(due_ahead, sentinel, first_due),
        np.where(drawn & (card_first_due < -1), card_first_due, sentinel),
    )
    put(
        "DAYS_LAST_DUE_1ST_VERSION",
        np.where(due_ahead, sentinel, planned_last),
        np.full(m, sentinel),
    )
    put(
        "DAYS_LAST_DUE",
        np.where(finished & ~due_ahead, actual_last, sentinel),
        np.where(card_closed, card_last, sentinel),
    )
    put(
        "DAYS_TERMINATION",
        np.where(finished & ~due_ahead & (termination <= -2), termination, sentinel),
        np.where(card_closed & (rng.random(m) < 0.65), np.minimum(card_last + 10, -2), sentinel),
    )
    insured = (rng.random(m) < rate("prev.insured") * 1.3) & instalment
    cols["NFLAG_INSURED_ON_APPROVAL"] = np.where(started, insured.astype(float), np.nan)

    keep = started & np.where(revolving, True, ~due_ahead)
    row = np.flatnonzero(keep)
    last = np.where(
        revolving, np.where(card_closed, card_last, np.nan), np.where(finished, actual_last, np.nan)
    )
    return Loans(
        row=row,
        revolving=revolving[row],
        decision=decision[row],
        first_due=first_due[row],
        payments=payments[row].astype(np.int64),
        annuity=annuity[row],
        credit=credit[row],
        instalments=instalments[row].astype(np.int64),
        finished=np.where(revolving, card_closed, finished)[row],
        last_due=last[row],
        drawn=drawn[row],
    )


def month_of(days: np.ndarray) -> np.ndarray:
    return np.floor(days / MONTH_DAYS).astype(np.int64)


__all__ = ["FIRST_ID", "Loans", "generate_previous", "month_of"]
