"""Counteroffer candidates and the choice among them (no Django: pure rows and numbers).

Home Credit rows carry no loan term. The model reads the term as ``AMT_CREDIT / AMT_ANNUITY``
(the ``CREDIT_TERM`` feature, "term in payments"), so that is the term here: the number of
monthly payments of ``AMT_ANNUITY`` that repay ``AMT_CREDIT``, no interest modelled. Two
kinds of candidate change an application's terms and nothing else:

* ``smaller_amount``: a smaller credit at the requested term: the annuity scales with the
  credit (the term stays what was asked) and the goods price is capped at the new credit
  where it exceeds it. Amounts step down in 5% of the request, rounded down to a whole unit
  (1,000, or 100 below 10,000), never below the floor (10% of the request).
* ``longer_term``: the requested credit over a longer whole number of months (every 6
  months, up to the longest term the model was trained on): the annuity is the credit over
  the months.

All candidates are scored together (one feature build, one prediction) and the policy picks:
the largest approved amount at the requested term, and the shortest approved longer term.
The preferred offer is the longer term, since it lends all that was asked (the goods price
stays covered); else the smaller amount. Candidates outside the model's input contract are
never scored (the caller filters them), so nothing is offered that could not be submitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SMALLER_AMOUNT = "smaller_amount"
LONGER_TERM = "longer_term"
#: Smaller amounts as shares of the request: 95%, 90%, ... down to the floor.
AMOUNT_STEP = 0.05
AMOUNT_FLOOR_SHARE = 0.10
TERM_STEP_MONTHS = 6
#: The terms a longer-term offer may take if the model's training range says nothing.
DEFAULT_LONGEST_TERM_MONTHS = 60


@dataclass(frozen=True)
class Candidate:
    kind: str
    row: dict[str, Any]

    @property
    def credit(self) -> float:
        return float(self.row["AMT_CREDIT"])

    @property
    def term_months(self) -> float:
        return term_months(self.row) or 0.0


def term_months(row: Mapping[str, Any]) -> float | None:
    """Credit over annuity: the monthly payments the row implies (None without an annuity)."""
    credit, annuity = row.get("AMT_CREDIT"), row.get("AMT_ANNUITY")
    if not credit or not annuity or credit <= 0 or annuity <= 0:
        return None
    return float(credit) / float(annuity)


def rounding_unit(credit: float) -> float:
    return 100.0 if credit < 10_000 else 1_000.0


def candidates(
    row: Mapping[str, Any], *, longest_term_months: float = DEFAULT_LONGEST_TERM_MONTHS
) -> list[Candidate]:
    """Every counteroffer candidate for an application row (empty without a term)."""
    requested = term_months(row)
    if requested is None:
        return []
    credit, annuity = float(row["AMT_CREDIT"]), float(row["AMT_ANNUITY"])
    goods = row.get("AMT_GOODS_PRICE")
    out: list[Candidate] = []
    unit = rounding_unit(credit)
    floor = credit * AMOUNT_FLOOR_SHARE
    seen: set[float] = set()
    steps = round((1 - AMOUNT_FLOOR_SHARE) / AMOUNT_STEP)
    for step in range(1, steps + 1):
        amount = math.floor(credit * (1 - step * AMOUNT_STEP) / unit) * unit
        if amount < floor or amount <= 0 or amount in seen:
            continue
        seen.add(amount)
        changed = {
            "AMT_CREDIT": amount,
            "AMT_ANNUITY": round(annuity * amount / credit, 2),
        }
        if goods is not None and goods > amount:
            changed["AMT_GOODS_PRICE"] = amount
        out.append(Candidate(SMALLER_AMOUNT, {**row, **changed}))
    first = (math.floor(requested / TERM_STEP_MONTHS) + 1) * TERM_STEP_MONTHS
    for months in range(first, int(longest_term_months) + 1, TERM_STEP_MONTHS):
        out.append(Candidate(LONGER_TERM, {**row, "AMT_ANNUITY": round(credit / months, 2)}))
    return out


@dataclass(frozen=True)
class Choice:
    """The chosen offers (None: none approves) over the candidates that were scored."""

    smaller_amount: tuple[Candidate, float] | None
    longer_term: tuple[Candidate, float] | None

    @property
    def preferred(self) -> tuple[Candidate, float] | None:
        return self.longer_term or self.smaller_amount


def choose(
    scored: Sequence[Candidate],
    probabilities: Sequence[float],
    approves: Callable[[float], bool],
) -> Choice:
    """The largest approved amount at the requested term and the shortest approved longer
    term, each with its probability of default."""
    amount: tuple[Candidate, float] | None = None
    term: tuple[Candidate, float] | None = None
    for candidate, pd in zip(scored, probabilities, strict=True):
        if not approves(pd):
            continue
        if candidate.kind == SMALLER_AMOUNT:
            if amount is None or candidate.credit > amount[0].credit:
                amount = (candidate, pd)
        elif term is None or candidate.term_months < term[0].term_months:
            term = (candidate, pd)
    return Choice(smaller_amount=amount, longer_term=term)


def offer_document(candidate: Candidate, probability_of_default: float) -> dict[str, Any]:
    """The offer as stored and shown: the changed terms, the term, the PD and the outcome."""
    row = candidate.row
    return {
        "AMT_CREDIT": float(row["AMT_CREDIT"]),
        "AMT_ANNUITY": float(row["AMT_ANNUITY"]),
        "AMT_GOODS_PRICE": (
            None if row.get("AMT_GOODS_PRICE") is None else float(row["AMT_GOODS_PRICE"])
        ),
        "term_months": round(candidate.term_months, 1),
        "probability_of_default": float(probability_of_default),
        "outcome": "APPROVE",
        "kind": candidate.kind,
    }


#: The columns an offer changes; everything else is the applicant's own row.
OFFER_COLUMNS = ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE")


def offered_row(row: Mapping[str, Any], offer: Mapping[str, Any]) -> dict[str, Any]:
    """The application row an accepted offer is submitted with."""
    out = dict(row)
    for name in OFFER_COLUMNS:
        if offer.get(name) is None:
            out.pop(name, None)
        else:
            out[name] = offer[name]
    return out
