"""A loan officer's summary of an applicant's known credit history.

The rows come from the same place scoring took them: history the client sent inline with
the application, else the stored history of the applicant's known id (the parquet cache
under CREDSCOPE_DATA_DIR), else none. Figures are plain counts and sums, not model features.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from applicants.models import LoanApplication

LAST_YEAR_DAYS = -365
_BAD_BUREAU_STATES = frozenset({"Bad debt", "Sold"})
_LATE_MONTH_STATUSES = frozenset({"1", "2", "3", "4", "5"})

_store_lock = threading.Lock()
_store: dict[str, Any] = {"path": None, "store": None}


@dataclass(frozen=True)
class CreditHistorySummary:
    source: str  # "inline" (sent with the application) or "stored" (known applicant id)
    bureau_credits: int
    bureau_active: int
    bureau_closed: int
    bureau_bad_debt: int
    bureau_overdue_amount: float
    bureau_max_days_overdue: int
    bureau_active_debt: float
    bureau_late_months: int
    previous_applications: int
    previous_approved: int
    previous_refused: int
    instalments: int
    late_instalments: int
    late_instalments_last_year: int
    missed_payment_amount: float
    months_past_due: int

    @property
    def is_empty(self) -> bool:
        return not (self.bureau_credits or self.previous_applications or self.instalments)


def credit_history_summary_for(*, application: LoanApplication) -> CreditHistorySummary | None:
    """The summary of what scoring knew about this applicant's history; None if nothing.

    Callers must already have checked the reader may see `application`.
    """
    if application.history:
        return summarise_history(application.history, source="inline")
    external_id = application.applicant.external_id
    if external_id is None:
        return None
    store = _history_store()
    if store is None:
        return None
    frames = store.history_for(external_id)
    return summarise_history(
        {name: frame.to_dict("records") for name, frame in frames.items()}, source="stored"
    )


def summarise_history(
    history: Mapping[str, Iterable[Mapping[str, Any]]], *, source: str
) -> CreditHistorySummary:
    """Counts and sums over history rows in the Kaggle table schemas."""
    bureau = list(history.get("bureau", []))
    bureau_balance = list(history.get("bureau_balance", []))
    previous = list(history.get("previous_application", []))
    instalments = list(history.get("installments_payments", []))
    monthly = list(history.get("POS_CASH_balance", [])) + list(
        history.get("credit_card_balance", [])
    )

    grouped = _instalments(instalments)
    late = [item for item in grouped if item.paid_late]
    return CreditHistorySummary(
        source=source,
        bureau_credits=len(bureau),
        bureau_active=sum(1 for row in bureau if row.get("CREDIT_ACTIVE") == "Active"),
        bureau_closed=sum(1 for row in bureau if row.get("CREDIT_ACTIVE") == "Closed"),
        bureau_bad_debt=sum(1 for row in bureau if row.get("CREDIT_ACTIVE") in _BAD_BUREAU_STATES),
        bureau_overdue_amount=sum(_number(row.get("AMT_CREDIT_SUM_OVERDUE")) for row in bureau),
        bureau_max_days_overdue=int(
            max((_number(row.get("CREDIT_DAY_OVERDUE")) for row in bureau), default=0)
        ),
        bureau_active_debt=sum(
            _number(row.get("AMT_CREDIT_SUM_DEBT"))
            for row in bureau
            if row.get("CREDIT_ACTIVE") == "Active"
        ),
        bureau_late_months=sum(
            1 for row in bureau_balance if str(row.get("STATUS")) in _LATE_MONTH_STATUSES
        ),
        previous_applications=len(previous),
        previous_approved=sum(
            1 for row in previous if row.get("NAME_CONTRACT_STATUS") == "Approved"
        ),
        previous_refused=sum(1 for row in previous if row.get("NAME_CONTRACT_STATUS") == "Refused"),
        instalments=len(grouped),
        late_instalments=len(late),
        late_instalments_last_year=sum(1 for item in late if item.due_day >= LAST_YEAR_DAYS),
        missed_payment_amount=sum(item.shortfall for item in grouped),
        months_past_due=sum(1 for row in monthly if _number(row.get("SK_DPD")) > 0),
    )


@dataclass
class _Instalment:
    due_day: float
    amount_due: float = 0.0
    amount_paid: float = 0.0
    paid_late: bool = False

    @property
    def shortfall(self) -> float:
        # A cent of rounding between instalment and payment is not a missed payment.
        gap = self.amount_due - self.amount_paid
        return gap if gap > 0.01 else 0.0


def _instalments(rows: Iterable[Mapping[str, Any]]) -> list[_Instalment]:
    """One entry per instalment: Kaggle writes a row per (partial) payment."""
    by_key: dict[tuple[Any, ...], _Instalment] = {}
    for row in rows:
        key = (
            row.get("SK_ID_PREV"),
            row.get("NUM_INSTALMENT_VERSION"),
            row.get("NUM_INSTALMENT_NUMBER"),
        )
        due_day = _number(row.get("DAYS_INSTALMENT"))
        item = by_key.setdefault(key, _Instalment(due_day=due_day))
        item.amount_due = max(item.amount_due, _number(row.get("AMT_INSTALMENT")))
        item.amount_paid += _number(row.get("AMT_PAYMENT"))
        paid_day = _maybe(row.get("DAYS_ENTRY_PAYMENT"))
        if paid_day is not None and paid_day > due_day:
            item.paid_late = True
    return list(by_key.values())


def _maybe(value: Any) -> float | None:
    if value is None or isinstance(value, str | bool):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _number(value: Any) -> float:
    number = _maybe(value)
    return 0.0 if number is None else number


def _history_store():
    """This process's handle on the stored history, opened once per cache folder."""
    from scoring.ml.data.history_store import HistoryStore

    path = Path(settings.CREDSCOPE_DATA_DIR) / "cache"
    with _store_lock:
        # A cache built after this process started is picked up on the next request.
        if _store["path"] != path or _store["store"] is None:
            _store["store"] = HistoryStore.open_if_present(path)
            _store["path"] = path
        return _store["store"]
