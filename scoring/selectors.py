"""Reads of the scoring side that pages and the API share: batches and what they produced,
and the credit history an applicant was scored with.

Every read that a user asks for is scoped here: an officer sees only their own batches (a
batch they may not see answers 404, exactly like one that does not exist); compliance, who
read every application, read every batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, QuerySet

from applicants.models import LoanApplication
from credscope_site.roles import Perm
from scoring import registry
from scoring.models import BatchJob, Decision, Outcome

Status = LoanApplication.Status
FINISHED = (BatchJob.Status.DONE, BatchJob.Status.FAILED)
RESULT_COLUMNS = (
    "row",
    "SK_ID_CURR",
    "application_id",
    "status",
    "outcome",
    "probability_of_default",
    "risk_band",
    "reasons",
    "model_version",
    "policy_version",
    "errors",
)


# --- batches ---------------------------------------------------------------------------------


def batch_list_for(*, user: AbstractBaseUser) -> QuerySet[BatchJob]:
    """The batches `user` may read, newest first: an officer their own; a reader of every
    application (compliance) every batch, since a batch is only applications."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(Perm.VIEW_BATCHES):
        return BatchJob.objects.none()
    batches = BatchJob.objects.select_related("created_by").order_by("-created_at", "-pk")
    if user.has_perm(Perm.VIEW_ALL_APPLICATIONS):
        return batches
    return batches.filter(created_by=user)


def batch_get_for(*, user: AbstractBaseUser, batch_id: int) -> BatchJob:
    """One batch `user` may see; `BatchJob.DoesNotExist` otherwise (answer 404 either way)."""
    return batch_list_for(user=user).get(pk=batch_id)


def batch_status(*, batch: BatchJob) -> dict[str, Any]:
    """What the batch page polls: the shared progress counts, the status, whether done."""
    return {
        **batch_progress(batch=batch),
        "status": batch.status,
        "status_label": batch.get_status_display(),
        "finished": batch.status in FINISHED,
    }


def batch_row_errors(*, batch: BatchJob) -> list[tuple[int, list[tuple[str, str]]]]:
    """The invalid rows, in file order, each with its (field, message) pairs."""
    return sorted(
        ((int(row), list(errors.items())) for row, errors in batch.row_errors.items()),
        key=lambda item: item[0],
    )


def batch_applications(*, batch: BatchJob) -> QuerySet[LoanApplication]:
    return batch.applications.select_related("decision").order_by("batch_row")


def batch_progress(*, batch: BatchJob) -> dict[str, Any]:
    """Counts of the batch's rows by state, and by outcome for the decided ones."""
    by_status = dict(
        batch.applications.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    outcomes = dict(
        Decision.objects.filter(application__batch=batch)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .values_list("outcome", "n")
    )
    decided = by_status.get(Status.DECIDED, 0)
    failed = by_status.get(Status.FAILED, 0)
    finished_rows = decided + failed + batch.invalid_rows
    return {
        "total_rows": batch.total_rows,
        "invalid": batch.invalid_rows,
        "valid": sum(by_status.values()),
        "submitted": by_status.get(Status.SUBMITTED, 0),
        "scoring": by_status.get(Status.SCORING, 0),
        "decided": decided,
        "failed": failed,
        "processed": finished_rows,
        "percent": round(100.0 * finished_rows / batch.total_rows, 1)
        if batch.total_rows
        else 100.0,
        "outcomes": {outcome.value: outcomes.get(outcome, 0) for outcome in Outcome},
    }


def batch_results_rows(*, batch: BatchJob) -> Iterator[list[str]]:
    """The results CSV, header first: one line per input line, in input order."""
    yield list(RESULT_COLUMNS)
    applications = {
        application.batch_row: application
        for application in batch.applications.select_related(
            "applicant", "decision", "decision__model_version", "decision__policy"
        ).iterator(chunk_size=2000)
    }
    for number in range(1, batch.total_rows + 1):
        errors = batch.row_errors.get(str(number))
        application = applications.get(number)
        if application is None:
            yield [str(number), "", "", "INVALID", "", "", "", "", "", "", _errors_text(errors)]
            continue
        decision = getattr(application, "decision", None)
        yield [
            str(number),
            _text(application.applicant.external_id),
            str(application.pk),
            application.status,
            decision.outcome if decision else "",
            f"{decision.probability_of_default:.6f}" if decision else "",
            decision.risk_band if decision else "",
            "; ".join(r["text"] for r in decision.reasons) if decision else "",
            decision.model_version.version if decision else "",
            str(decision.policy.version) if decision else "",
            application.failure_reason,
        ]


def _errors_text(errors: dict[str, str] | None) -> str:
    return "; ".join(f"{field}: {message}" for field, message in (errors or {}).items())


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- an applicant's known credit history ------------------------------------------------------

LAST_YEAR_DAYS = -365
_BAD_BUREAU_STATES = frozenset({"Bad debt", "Sold"})
_LATE_MONTH_STATUSES = frozenset({"1", "2", "3", "4", "5"})


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
    store = registry.history_store()
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
