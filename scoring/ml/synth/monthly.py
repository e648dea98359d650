"""Synthetic POS_CASH_balance, installments_payments and credit_card_balance rows.

All three hang off the started credits of previous_application (:class:`Loans`), so every
row's SK_ID_PREV is an approved previous application of the same client and its months lie
between that application's decision and the current application (MONTHS_BALANCE <= -1, and
>= -96 as in the Kaggle files). One schedule drives POS and instalments: instalment ``i`` of
a cash or consumer credit is due ``DAYS_FIRST_DUE + 30 (i - 1)``; the POS row of that month
counts the instalments left and carries the days past due of a late payment. Card months
carry the balance, drawings and minimum payment that the card's instalments (version 0) then
settle.
"""

from __future__ import annotations

import numpy as np

from scoring.ml.synth.base import (
    MONTH_DAYS,
    Columns,
    code,
    group_positions,
    quantile,
    rate,
    sigmoid,
)
from scoring.ml.synth.previous import Loans, month_of

POS = "POS_CASH_balance"
CC = "credit_card_balance"
OLDEST_MONTH = -96


def behaviour(rng: np.random.Generator, score: np.ndarray) -> dict[str, np.ndarray]:
    """Per-client payment propensities driven by the segment score plus individual noise."""
    n = score.size

    def draw(base: float, slope: float, spread: float) -> np.ndarray:
        return sigmoid(base + slope * score + spread * rng.standard_normal(n))

    return {
        "late": draw(-2.7, 0.95, 0.8),
        "short": draw(-3.2, 0.8, 0.8),
        "pos_dpd": draw(-5.0, 0.9, 0.7),
        "utilisation": np.clip(1.1 * draw(-0.4, 0.8, 1.0), 0.0, 1.1),
        "atm": draw(-2.1, 0.7, 0.8),
        "card_use": draw(0.5, 0.5, 1.2),
    }


def generate_monthly(
    rng: np.random.Generator,
    loans: Loans,
    prev_ids: np.ndarray,
    prev_clients: np.ndarray,
    client_index: np.ndarray,
    habits: dict[str, np.ndarray],
) -> tuple[Columns, Columns, Columns]:
    """POS_CASH_balance, installments_payments and credit_card_balance for one chunk.

    ``client_index`` maps each loan to its client's position in ``habits``.
    """
    instalment = ~loans.revolving
    schedule = _schedule(rng, loans, instalment, client_index, habits)
    pos = _pos(rng, loans, instalment, schedule, prev_ids, prev_clients, client_index, habits)
    cards, card_instalments = _cards(rng, loans, prev_ids, prev_clients, client_index, habits)
    payments = _payments(rng, schedule, card_instalments, prev_ids, prev_clients, loans)
    return pos, payments, cards


def _schedule(
    rng: np.random.Generator,
    loans: Loans,
    instalment: np.ndarray,
    client_index: np.ndarray,
    habits: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """One entry per instalment already due (day <= -1) of each cash / consumer credit."""
    due_count = (
        np.where(
            instalment,
            np.minimum(loans.instalments, np.floor((-1 - loans.first_due) / 30) + 1),
            0,
        )
        .clip(0, None)
        .astype(np.int64)
    )
    loan, position = group_positions(due_count)
    number = position + 1
    due = loans.first_due[loan] + 30.0 * position
    rows = loan.size
    amount = np.full(rows, 0.0)
    amount[:] = loans.annuity[loan]
    # Early repayment: the last instalment settles what is left.
    last = (
        loans.finished[loan]
        & (number == loans.instalments[loan])
        & (loans.instalments[loan] < loans.payments[loan])
    )
    amount = np.where(last, np.round(amount * (loans.payments[loan] - number + 1), 3), amount)
    client = client_index[loan]
    late = rng.random(rows) < habits["late"][client]
    delay = np.where(
        late,
        quantile("inst.delay.late", rng.random(rows)).round(),
        quantile("inst.delay.on_time", rng.random(rows)).round(),
    )
    short = rng.random(rows) < habits["short"][client]
    restructured_from = np.where(
        rng.random(loans.row.size) < 0.06,
        np.ceil(rng.random(loans.row.size) * loans.instalments),
        10**6,
    )
    version = np.where(number >= restructured_from[loan], 2.0, 1.0)
    return {
        "loan": loan,
        "number": number,
        "due": due,
        "amount": amount,
        "delay": delay,
        "late": late,
        "short": short,
        "version": version,
        "first_row": np.cumsum(due_count) - due_count,
        "due_count": due_count,
    }


def _pos(
    rng: np.random.Generator,
    loans: Loans,
    instalment: np.ndarray,
    schedule: dict[str, np.ndarray],
    prev_ids: np.ndarray,
    prev_clients: np.ndarray,
    client_index: np.ndarray,
    habits: dict[str, np.ndarray],
) -> Columns:
    """Month t = 0 is the decision month; month t >= 1 follows instalment t."""
    start = month_of(loans.decision)
    last_t = np.where(loans.finished, loans.instalments, -1 - start)
    last_t = np.minimum(last_t, -1 - start)
    first_t = np.maximum(0, OLDEST_MONTH - start)
    months = np.where(instalment, last_t - first_t + 1, 0).clip(0, None)
    loan, position = group_positions(months)
    t = first_t[loan] + position
    rows = loan.size
    payments = loans.payments[loan]
    future = np.clip(payments - t, 0, None).astype(float)
    completed = loans.finished[loan] & (t >= loans.instalments[loan])
    future = np.where(completed, 0.0, future)
    status = np.full(rows, code(POS, "NAME_CONTRACT_STATUS", "Active"), dtype=np.int16)
    status[completed] = code(POS, "NAME_CONTRACT_STATUS", "Completed")
    signed = (t == 0) & (rng.random(rows) < 0.12)
    status[signed] = code(POS, "NAME_CONTRACT_STATUS", "Signed")
    # Days past due: the delay of the instalment paid late that month, or an episode of its own.
    has_instalment = (t >= 1) & (t <= schedule["due_count"][loan])
    index = np.where(has_instalment, schedule["first_row"][loan] + t - 1, 0)
    delay = np.where(has_instalment, schedule["delay"][index], 0.0)
    late = has_instalment & schedule["late"][index] & (rng.random(rows) < 0.7)
    client = client_index[loan]
    episode = (rng.random(rows) < habits["pos_dpd"][client]) & ~completed
    dpd = np.where(late, np.maximum(delay, 1), 0)
    dpd = np.where(
        episode, np.maximum(dpd, quantile("inst.delay.late", rng.random(rows)).round()), dpd
    )
    demand = dpd > 90
    status[demand & (rng.random(rows) < 0.3)] = code(POS, "NAME_CONTRACT_STATUS", "Demand")
    # The "tolerated" DPD column is mostly 1 day or nothing.
    dpd_def = np.where(
        (dpd > 0) & (rng.random(rows) < 0.4), np.where(rng.random(rows) < 0.8, 1, dpd), 0
    )
    count_missing = rng.random(rows) < 0.0028
    row = loans.row[loan]
    return {
        "SK_ID_PREV": prev_ids[row],
        "SK_ID_CURR": prev_clients[row],
        "MONTHS_BALANCE": start[loan] + t,
        "CNT_INSTALMENT": np.where(count_missing, np.nan, payments.astype(float)),
        "CNT_INSTALMENT_FUTURE": np.where(count_missing, np.nan, future),
        "NAME_CONTRACT_STATUS": status,
        "SK_DPD": dpd.astype(np.int64),
        "SK_DPD_DEF": dpd_def.astype(np.int64),
    }


def _cards(
    rng: np.random.Generator,
    loans: Loans,
    prev_ids: np.ndarray,
    prev_clients: np.ndarray,
    client_index: np.ndarray,
    habits: dict[str, np.ndarray],
) -> tuple[Columns, dict[str, np.ndarray]]:
    """Monthly card rows from the decision month to -1 (or two months past closing)."""
    start = month_of(loans.decision)
    end = np.where(loans.finished, month_of(np.nan_to_num(loans.last_due)) + 2, -1)
    end = end.clip(None, -1)
    first = np.maximum(start, OLDEST_MONTH)
    months = np.where(loans.revolving, end - first + 1, 0).clip(0, None)
    card, position = group_positions(months)
    rows = card.size
    month = first[card] + position
    client = client_index[card]
    drawn = loans.drawn[card]
    activated = drawn | (rng.random(loans.row.size) < 0.5)[card]
    limit = np.where(activated, loans.credit[card], 0.0)
    after_close = month > month_of(np.nan_to_num(loans.last_due))[card]
    closed_months = loans.finished[card] & after_close
    # A drawn card carries a balance in some months only (how often is a client habit).
    in_use = rng.random(rows) < habits["card_use"][client]
    using = drawn & ~closed_months & (limit > 0) & in_use
    level = habits["utilisation"][client]
    utilisation = np.clip(level + 0.18 * rng.standard_normal(rows), 0.02, 1.15)
    balance = np.where(using, np.round(utilisation * limit, 3), 0.0)
    drawn_amounts, drawn_counts = _card_drawings(rng, using, limit, habits["atm"][client])
    atm_amount, pos_amount, other_amount = drawn_amounts
    atm_count, pos_count, other_count = drawn_counts
    total = atm_amount + pos_amount + other_amount
    no_detail = (total == 0) & (rng.random(rows) < rate("cc.drawings.missing") / 0.8)
    minimum = np.where(balance > 0, np.round(0.05 * np.maximum(balance, 0.5 * limit), 3), 0.0)
    minimum = np.where((position == 0) | (rng.random(rows) < 0.03), np.nan, minimum)
    short = rng.random(rows) < habits["short"][client]
    pay_factor = np.where(short, rng.uniform(0.0, 0.9, rows), 1.0 + rng.exponential(1.5, rows))
    payment = np.round(np.nan_to_num(minimum) * pay_factor, 3)
    # Idle months of a drawn card often still show the payment that cleared it.
    clearing = drawn & ~using & ~closed_months & (position > 0) & (rng.random(rows) < 0.45)
    payment = np.where(clearing, np.round(rng.exponential(0.08, rows) * limit, 3), payment)
    no_payment = (payment == 0) & (rng.random(rows) < 0.45)
    payment_current = np.where(no_payment, np.nan, payment)
    late = using & (rng.random(rows) < habits["late"][client]) & (balance > 0)
    delay = quantile("inst.delay.late", rng.random(rows)).round()
    dpd = np.where(late, delay, 0).astype(np.int64)
    # CNT_INSTALMENT_MATURE_CUM: months of the card's life so far (0 before activation).
    mature = np.where(drawn, position, 0)
    completed = code(CC, "NAME_CONTRACT_STATUS", "Completed")
    status = np.where(closed_months, completed, code(CC, "NAME_CONTRACT_STATUS", "Active"))
    row = loans.row[card]

    def detail(values: np.ndarray) -> np.ndarray:
        return np.where(no_detail, np.nan, values.astype(float))

    cards: Columns = {
        "SK_ID_PREV": prev_ids[row],
        "SK_ID_CURR": prev_clients[row],
        "MONTHS_BALANCE": month,
        "AMT_BALANCE": balance,
        "AMT_CREDIT_LIMIT_ACTUAL": limit.astype(np.int64),
        "AMT_DRAWINGS_ATM_CURRENT": detail(atm_amount),
        "AMT_DRAWINGS_CURRENT": total,
        "AMT_DRAWINGS_OTHER_CURRENT": detail(other_amount),
        "AMT_DRAWINGS_POS_CURRENT": detail(pos_amount),
        "AMT_INST_MIN_REGULARITY": minimum,
        "AMT_PAYMENT_CURRENT": payment_current,
        "AMT_PAYMENT_TOTAL_CURRENT": payment,
        "AMT_RECEIVABLE_PRINCIPAL": np.round(balance * 0.96, 3),
        "AMT_RECIVABLE": balance,
        "AMT_TOTAL_RECEIVABLE": balance,
        "CNT_DRAWINGS_ATM_CURRENT": detail(atm_count),
        "CNT_DRAWINGS_CURRENT": (atm_count + pos_count + other_count).astype(np.int64),
        "CNT_DRAWINGS_OTHER_CURRENT": detail(other_count),
        "CNT_DRAWINGS_POS_CURRENT": detail(pos_count),
        "CNT_INSTALMENT_MATURE_CUM": np.where(np.isnan(minimum), np.nan, mature.astype(float)),
        "NAME_CONTRACT_STATUS": status,
        "SK_DPD": dpd,
        "SK_DPD_DEF": np.where(rng.random(rows) < 0.3, dpd, 0),
    }
    return cards, _card_instalments(card, month, minimum, payment, clearing, late)


def _card_instalments(
    card: np.ndarray,
    month: np.ndarray,
    minimum: np.ndarray,
    payment: np.ndarray,
    clearing: np.ndarray,
    late: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every minimum payment that fell due, and every payment that cleared the card, as a
    card instalment (version 0)."""
    due_rows = (np.nan_to_num(minimum) > 0) | (clearing & (payment > 0))
    amount = np.where(np.nan_to_num(minimum) > 0, minimum, payment)
    return {
        "loan": card[due_rows],
        "due": np.round(month[due_rows] * MONTH_DAYS + 12.0),
        "amount": amount[due_rows],
        "paid": payment[due_rows],
        "late": late[due_rows],
    }


def _card_drawings(
    rng: np.random.Generator, using: np.ndarray, limit: np.ndarray, atm_habit: np.ndarray
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """A card month's drawings (amounts and counts): cash at ATMs, at points of sale, other.

    The draws keep the generator's order, so a seed gives the same data as before."""
    rows = using.size
    atm = using & (rng.random(rows) < atm_habit)
    atm_fraction = quantile("cc.atm_fraction", rng.random(rows))
    atm_amount = np.where(atm, np.maximum(np.round(atm_fraction * limit / 450) * 450, 450.0), 0.0)
    pos_draw = using & (rng.random(rows) < 0.12)
    pos_fraction = quantile("cc.pos_fraction", rng.random(rows))
    pos_amount = np.where(pos_draw, np.round(pos_fraction * limit, 2), 0.0)
    other = using & (rng.random(rows) < 0.004)
    other_amount = np.where(other, np.round(rng.uniform(0.05, 0.5, rows) * limit, 2), 0.0)
    atm_count = np.where(atm, 1 + rng.poisson(1.5, rows), 0)
    pos_count = np.where(pos_draw, 1 + rng.poisson(5.0, rows), 0)
    return (atm_amount, pos_amount, other_amount), (atm_count, pos_count, other.astype(np.int64))


def _payments(
    rng: np.random.Generator,
    schedule: dict[str, np.ndarray],
    card: dict[str, np.ndarray],
    prev_ids: np.ndarray,
    prev_clients: np.ndarray,
    loans: Loans,
) -> Columns:
    """installments_payments: instalments of cash / consumer credits (some split in two
    payments, some short, some unpaid yet) followed by card instalments (version 0)."""
    rows = schedule["loan"].size
    split = ~schedule["short"] & (rng.random(rows) < 0.05)
    entry = schedule["due"] + schedule["delay"]
    share = np.where(schedule["short"], rng.uniform(0.05, 0.95, rows), 1.0)
    paid = np.round(schedule["amount"] * share, 3)
    first_part = np.round(paid * rng.uniform(0.2, 0.8, rows), 3)
    # Each split instalment adds a second row right after the first.
    repeat = np.where(split, 2, 1)
    src = np.repeat(np.arange(rows), repeat)
    second = np.zeros(src.size, dtype=bool)
    second[1:] = src[1:] == src[:-1]
    pay = np.where(
        split[src], np.where(second, paid[src] - first_part[src], first_part[src]), paid[src]
    )
    day = entry[src] + np.where(second, rng.integers(1, 20, src.size), 0)
    unpaid = day > -1
    loan = schedule["loan"][src]

    card_loan = card["loan"]
    card_delay = np.where(
        card["late"],
        quantile("inst.delay.late", rng.random(card_loan.size)).round(),
        quantile("inst.delay.on_time", rng.random(card_loan.size)).round(),
    )
    card_entry = card["due"] + card_delay
    _, card_number = group_positions(np.bincount(card_loan, minlength=loans.row.size))
    card_unpaid = (card_entry > -1) | (card["paid"] <= 0)
    row = loans.row
    return {
        "SK_ID_PREV": np.concatenate([prev_ids[row[loan]], prev_ids[row[card_loan]]]),
        "SK_ID_CURR": np.concatenate([prev_clients[row[loan]], prev_clients[row[card_loan]]]),
        "NUM_INSTALMENT_VERSION": np.concatenate(
            [schedule["version"][src], np.zeros(card_loan.size)]
        ),
        "NUM_INSTALMENT_NUMBER": np.concatenate([schedule["number"][src], card_number + 1]).astype(
            np.int64
        ),
        "DAYS_INSTALMENT": np.concatenate([schedule["due"][src], card["due"]]),
        "DAYS_ENTRY_PAYMENT": np.concatenate(
            [np.where(unpaid, np.nan, day), np.where(card_unpaid, np.nan, card_entry)]
        ),
        "AMT_INSTALMENT": np.concatenate([schedule["amount"][src], card["amount"]]),
        "AMT_PAYMENT": np.concatenate(
            [np.where(unpaid, np.nan, pay), np.where(card_unpaid, np.nan, card["paid"])]
        ),
    }
