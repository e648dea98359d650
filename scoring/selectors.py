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

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import Count, F, Func, JSONField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform

from applicants.models import LoanApplication, LoanOutcome
from credscope_site.roles import Perm
from scoring import registry
from scoring.models import BatchIntake, BatchJob, Decision, ModelVersion, Outcome, intake_lines

Status = LoanApplication.Status
FINISHED = (BatchJob.Status.DONE, BatchJob.Status.FAILED)
RESULT_COLUMNS = (
    "row",
    "SK_ID_CURR",
    "full_name",
    "application_id",
    "status",
    "outcome",
    "probability_of_default",
    "risk_band",
    "reasons",
    "model_version",
    "policy_version",
    "errors",
    "warnings",
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


def batch_list_with_outcomes_for(*, user: AbstractBaseUser) -> QuerySet[BatchJob]:
    """`batch_list_for` with each batch's count of model decisions per outcome
    (`n_approve`, `n_refer`, `n_reject`), for the batch list."""
    return batch_list_for(user=user).annotate(
        **{
            f"n_{outcome.value.lower()}": Count(
                "applications__decision", filter=Q(applications__decision__outcome=outcome)
            )
            for outcome in Outcome
        }
    )


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


def batch_row_warnings(*, batch: BatchJob) -> list[tuple[int, list[tuple[str, str]]]]:
    """The rows accepted with a warning, in file order, each with its (field, message) pairs."""
    return sorted(
        ((int(row), list(warnings.items())) for row, warnings in batch.row_warnings.items()),
        key=lambda item: item[0],
    )


def batch_applications(*, batch: BatchJob) -> QuerySet[LoanApplication]:
    # The page shows a few columns of the first rows: not their documents.
    return (
        batch.applications.select_related("applicant", "decision")
        .defer(
            "application_row",
            "history",
            "decision__contributions",
            "decision__family_totals",
            "decision__feature_row",
        )
        .order_by("batch_row")
    )


def batch_progress(*, batch: BatchJob) -> dict[str, Any]:
    """Counts of the batch's rows by state, and by outcome for the decided ones.

    One statement, so one snapshot: while chunks decide concurrently, the counts by state and
    by outcome always agree with each other (two queries could straddle a chunk's commit).
    """
    by_status: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for status, outcome, n in (
        batch.applications.values_list("status", "decision__outcome")
        .annotate(n=Count("pk"))
        .values_list("status", "decision__outcome", "n")
        .order_by()
    ):
        by_status[status] = by_status.get(status, 0) + n
        if outcome is not None:
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    decided = by_status.get(Status.DECIDED, 0)
    failed = by_status.get(Status.FAILED, 0)
    scoring = by_status.get(Status.SCORING, 0)
    finished_rows = decided + failed + batch.invalid_rows
    return {
        "total_rows": batch.total_rows,
        "invalid": batch.invalid_rows,
        "valid": batch.valid_rows,
        # Rows waiting to be scored, whether a chunk has saved them as applications yet or not.
        "submitted": max(batch.valid_rows - scoring - decided - failed, 0),
        "scoring": scoring,
        "decided": decided,
        "failed": failed,
        "processed": finished_rows,
        "percent": round(100.0 * finished_rows / batch.total_rows, 1)
        if batch.total_rows
        else 100.0,
        "outcomes": {outcome.value: outcomes.get(outcome, 0) for outcome in Outcome},
        # Shares of the scored rows, in percent (rows with errors are not decisions).
        "rates": {
            outcome.value: round(100.0 * outcomes.get(outcome, 0) / decided, 1) if decided else None
            for outcome in Outcome
        },
    }


#: Rows read per query while the results CSV streams: bounded memory, few round trips.
RESULTS_CHUNK_ROWS = 5000
# Only what the CSV shows: never the applications' rows nor the decisions' contributions
# (~9 KB each), which made a 20,000-row download take over a minute.
_RESULT_FIELDS = (
    "batch_row",
    "applicant__external_id",
    "applicant__full_name",
    "pk",
    "status",
    "decision__outcome",
    "decision__probability_of_default",
    "decision__risk_band",
    "decision__model_version__version",
    "decision__policy__version",
    "failure_reason",
)


def batch_results_rows(
    *, batch: BatchJob, chunk_rows: int = RESULTS_CHUNK_ROWS
) -> Iterator[list[str]]:
    """The results CSV, header first: one line per input line, in input order.

    A generator for a streaming response: it reads the batch's applications in chunks by
    row number (keyset, so each query is an index range scan), the needed columns only, and
    fills the lines of invalid rows from the batch's recorded errors in between, and those of
    rows still waiting in an intake (read first: a row saved meanwhile is then read as an
    application, never missed)."""
    yield list(RESULT_COLUMNS)
    waiting = _intake_identities(batch)
    applications = batch.applications.order_by("batch_row").values_list(
        *_RESULT_FIELDS, _reason_texts()
    )
    number, last = 1, 0
    while True:
        chunk = list(applications.filter(batch_row__gt=last)[:chunk_rows])
        for values in chunk:
            row = values[0]
            while number < row:
                yield _line_without_application(batch, number, waiting)
                number += 1
            yield _result_line(values, _errors_text(batch.row_warnings.get(str(row))))
            number = row + 1
        if len(chunk) < chunk_rows:
            break
        last = chunk[-1][0]
    while number <= batch.total_rows:
        yield _line_without_application(batch, number, waiting)
        number += 1


def _reason_texts() -> Func | F:
    """The decision's reason texts. On PostgreSQL only the texts leave the database (decoding
    each decision's whole reasons JSON was half the time of a 20,000-row download)."""
    if connection.vendor == "postgresql":
        return Func(
            F("decision__reasons"),
            template="jsonb_path_query_array(%(expressions)s, '$[*].text')",
            output_field=JSONField(),
        )
    return F("decision__reasons")


def _result_line(values: tuple[Any, ...], warnings: str) -> list[str]:
    (row, external_id, name, pk, status, outcome, pd_, band, model, policy, failure, reasons) = (
        values
    )
    decided = outcome is not None
    texts = [r["text"] if isinstance(r, dict) else r for r in reasons or ()]
    return [
        str(row),
        _text(external_id),
        name or "",
        str(pk),
        status,
        outcome or "",
        f"{pd_:.6f}" if decided else "",
        band or "",
        "; ".join(texts) if decided else "",
        model or "",
        _text(policy) if decided else "",
        failure,
        warnings,
    ]


def _intake_identities(batch: BatchJob) -> dict[int, tuple[int | None, str]]:
    """{row: (SK_ID_CURR, name)} of the batch's rows no chunk has saved yet (none once it
    has run, so a finished batch's download reads nothing here)."""
    if batch.status == BatchJob.Status.DONE:
        return {}
    return {
        number: (external_id, full_name)
        for document in BatchIntake.objects.filter(batch=batch).values_list("document", flat=True)
        for number, _, external_id, full_name in intake_lines(document)
    }


def _line_without_application(
    batch: BatchJob, number: int, waiting: dict[int, tuple[int | None, str]]
) -> list[str]:
    """A row that is no application (yet): still waiting in an intake, or invalid."""
    warnings = _errors_text(batch.row_warnings.get(str(number)))
    if number in waiting:
        external_id, full_name = waiting[number]
        return _identity_line(
            number, _text(external_id), full_name, Status.SUBMITTED.value, "", warnings
        )
    # The SK_ID_CURR and name of an invalid row as written, so the person can still be found.
    identity = batch.row_identities.get(str(number), {})
    errors = _errors_text(batch.row_errors.get(str(number)))
    return _identity_line(
        number,
        identity.get("SK_ID_CURR", ""),
        identity.get("full_name", ""),
        "INVALID",
        errors,
        warnings,
    )


def _identity_line(
    number: int, external_id: str, full_name: str, status: str, errors: str, warnings: str
) -> list[str]:
    """A results line with no decision columns: who the row is, its status and messages."""
    return [str(number), external_id, full_name, "", status, *[""] * 6, errors, warnings]


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


# --- oversight: who was decided, and what became of the loan ---------------------------------


def applicant_audit_fields(prefix: str = "") -> dict[str, Any]:
    """`values()` expressions for what the fair-lending audit groups by (gender, date of
    birth, family status) and the recorded repayment, from a Decision (`prefix` ""), or
    through a relation to one (`prefix` "decision__")."""
    return {
        "gender": F(f"{prefix}application__applicant__code_gender"),
        "days_birth": F(f"{prefix}application__applicant__days_birth"),
        "family_status": KeyTextTransform(
            "NAME_FAMILY_STATUS", f"{prefix}application__application_row"
        ),
        "loan_outcome": F(f"{prefix}application__recorded_outcome__outcome"),
    }


def recorded_outcomes_for(*, model_version: ModelVersion) -> dict[str, np.ndarray]:
    """The version's decisions whose loan outcome has been recorded (`import_outcomes`, the
    outcome API): calibrated PD, whether it defaulted, and whether it was finally approved
    (the model's outcome, or an officer's override of it)."""
    rows = list(
        Decision.objects.filter(
            model_version=model_version, application__recorded_outcome__isnull=False
        )
        .order_by()
        .values_list(
            "probability_of_default",
            "application__recorded_outcome__outcome",
            "outcome",
            "override__outcome",
        )
    )
    return {
        "pds": np.array([r[0] for r in rows], dtype=np.float64),
        "defaulted": np.array([r[1] == LoanOutcome.Result.DEFAULTED for r in rows], dtype=bool),
        "approved": np.array([(r[3] or r[2]) == Outcome.APPROVE for r in rows], dtype=bool),
    }
