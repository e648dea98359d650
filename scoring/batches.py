"""CSV batches: many applications in one upload, scored in bulk.

`batch_create` reads the upload (UTF-8 CSV, Kaggle application column names in the header,
one application per line; an optional SK_ID_CURR column links a row to known history), checks
the file as a whole (size, row count, header), validates every row with the same rules as the
other doors (`scoring.ml.schema.records.clean_application(from_text=True)`), and in one transaction
saves the batch with each bad row's errors, every valid row as a SUBMITTED application
(channel "batch") with its audit event, and the batch's own audit event. After the commit
`score_batch(batch_id)` is queued.

`batch_score` (run by that task) claims the batch's applications chunk by chunk with the same
conditional update as single scoring, scores a chunk at once through the registry, and saves
its decisions in one transaction per chunk. Progress is read from the applications' statuses;
the results CSV has one line per input line: the decision, or that line's errors.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from applicants.models import Applicant, LoanApplication
from audits import trail
from audits.actions import AuditAction
from credscope_site.fields import bulk_batch_size
from credscope_site.roles import Perm
from scoring import registry, services
from scoring.ml.schema.records import APPLICATION_TABLE, ASSIGNED_COLUMNS, clean_application
from scoring.models import BatchJob, Decision

logger = logging.getLogger(__name__)

Status = LoanApplication.Status
EXTERNAL_ID_COLUMN = "SK_ID_CURR"
KNOWN_COLUMNS = frozenset(APPLICATION_TABLE.column_names) - ASSIGNED_COLUMNS
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


class BatchInvalid(Exception):
    """The file as a whole cannot be accepted; `errors` maps "file" (or a column) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- upload ------------------------------------------------------------------------------------


def batch_create(*, actor: AbstractBaseUser, filename: str, content: bytes) -> BatchJob:
    """Validate and save an uploaded CSV; queue its valid rows for scoring after commit.

    Raises `PermissionDenied`, `BatchInvalid` (file-level problems: nothing is saved),
    `registry.NoActiveModel`, and `services.ScoringQueueUnavailable` when the batch was saved
    but the broker refused it (the sweeper sends it again).
    """
    from applicants.services import (
        applicant_fields,
        application_fields,
        storage_errors,
        submitted_payload,
    )

    if not actor.has_perm(Perm.SUBMIT_BATCH):
        raise PermissionDenied("this role may not submit batches")
    header, lines = parse_csv(content)
    valid: list[tuple[int, dict[str, Any], int | None]] = []
    row_errors: dict[str, dict[str, str]] = {}
    for number, cells in enumerate(lines, start=1):
        row, external_id, errors = _clean_line(header, cells)
        if not errors:
            errors = storage_errors(row, {})
        if errors:
            row_errors[str(number)] = errors
        else:
            valid.append((number, row, external_id))
    if valid and registry.active_model_version() is None:
        raise registry.NoActiveModel("no model version is active: nothing could score the batch")

    queue_errors: list[Exception] = []
    with transaction.atomic():
        batch = BatchJob.objects.create(
            created_by=actor,
            filename=(filename or "upload.csv")[:255],
            status=BatchJob.Status.QUEUED if valid else BatchJob.Status.DONE,
            total_rows=len(lines),
            invalid_rows=len(row_errors),
            row_errors=row_errors,
            finished_at=None if valid else timezone.now(),
        )
        applicants = Applicant.objects.bulk_create(
            [
                Applicant(**applicant_fields(row, "", external_id, actor))
                for _, row, external_id in valid
            ],
            batch_size=bulk_batch_size(Applicant),
        )
        applications = LoanApplication.objects.bulk_create(
            [
                LoanApplication(
                    applicant=applicant,
                    batch=batch,
                    batch_row=number,
                    **application_fields(row, {}, actor, LoanApplication.Channel.BATCH),
                )
                for applicant, (number, row, _) in zip(applicants, valid, strict=True)
            ],
            batch_size=bulk_batch_size(LoanApplication),
        )
        trail.record_many(
            [
                {
                    "action": AuditAction.APPLICATION_SUBMITTED,
                    "actor": actor,
                    "target": application,
                    "payload": submitted_payload(application),
                }
                for application in applications
            ]
        )
        trail.record(
            action=AuditAction.BATCH_SUBMITTED,
            actor=actor,
            target=batch,
            payload={
                "filename": batch.filename,
                "total_rows": batch.total_rows,
                "valid_rows": len(applications),
                "invalid_rows": batch.invalid_rows,
                "before": None,
                "after": {"status": batch.status},
            },
        )
        if applications:
            transaction.on_commit(lambda: _enqueue(batch.pk, queue_errors))
    if queue_errors:
        raise queue_errors[0]
    return batch


def parse_csv(content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the data lines of an upload, or `BatchInvalid` for the whole file."""
    max_bytes = settings.CREDSCOPE_BATCH_MAX_BYTES
    max_rows = settings.CREDSCOPE_BATCH_MAX_ROWS
    if len(content) > max_bytes:
        raise BatchInvalid({"file": f"is {len(content):,} bytes; the limit is {max_bytes:,} bytes"})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BatchInvalid({"file": f"is not UTF-8 text (byte {error.start})"}) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise BatchInvalid({"file": "is empty: expected a header line of column names"})
        lines = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, including the one a trailing newline leaves
            lines.append(cells)
            if len(lines) > max_rows:
                raise BatchInvalid({"file": f"has more than {max_rows:,} rows (the limit)"})
    except csv.Error as error:
        raise BatchInvalid({"file": f"is not valid CSV: {error}"}) from None
    _check_header(header)
    if not lines:
        raise BatchInvalid({"file": "has a header but no rows"})
    return header, lines


def _check_header(header: Sequence[str]) -> None:
    errors: dict[str, str] = {}
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        errors["header"] = f"repeats column(s): {', '.join(duplicates)}"
    unknown = [name for name in header if name not in KNOWN_COLUMNS and name != EXTERNAL_ID_COLUMN]
    if unknown:
        errors["columns"] = (
            f"unknown column(s): {', '.join(unknown[:20])}"
            + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            + "; expected Kaggle application column names"
        )
    missing = [
        name for name in ("AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH") if name not in header
    ]
    if missing:
        errors["required"] = f"missing required column(s): {', '.join(missing)}"
    if errors:
        raise BatchInvalid(errors)


def _clean_line(
    header: Sequence[str], cells: Sequence[str]
) -> tuple[dict[str, Any], int | None, dict[str, str]]:
    if len(cells) != len(header):
        return {}, None, {"row": f"has {len(cells)} cells; the header has {len(header)}"}
    values = dict(zip(header, cells, strict=True))
    external_id = None
    errors: dict[str, str] = {}
    raw_id = values.pop(EXTERNAL_ID_COLUMN, "").strip()
    if raw_id:
        if raw_id.isdigit():
            external_id = int(raw_id)
        else:
            errors[EXTERNAL_ID_COLUMN] = f"must be a whole number >= 0 (got {raw_id!r})"
    row, row_errors = clean_application(values, from_text=True)
    errors.update(row_errors)
    return row, external_id, errors


def _enqueue(batch_id: int, errors: list[Exception]) -> None:
    try:
        services.batch_scoring_enqueue(batch_id=batch_id)
    except services.ScoringQueueUnavailable as error:
        errors.append(error)


# --- scoring -----------------------------------------------------------------------------------


def batch_score(*, batch_id: int, task_id: str) -> BatchJob:
    """Score every SUBMITTED application of the batch, chunk by chunk, then finish it."""
    batch = BatchJob.objects.get(pk=batch_id)
    if batch.status in (BatchJob.Status.DONE, BatchJob.Status.FAILED):
        return batch
    BatchJob.objects.filter(pk=batch_id, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING
    )
    while chunk := _claim_chunk(batch_id, task_id):
        _score_chunk(chunk, task_id)
    batch_finish_if_complete(batch_id=batch_id)
    batch.refresh_from_db()
    return batch


def _claim_chunk(batch_id: int, task_id: str) -> list[LoanApplication]:
    """The next applications this task holds: its own earlier claims first (a redelivered
    task carries on), else a fresh chunk claimed with a conditional update."""
    size = settings.CREDSCOPE_BATCH_CHUNK_SIZE
    mine = LoanApplication.objects.filter(
        batch_id=batch_id, status=Status.SCORING, scoring_claim=task_id
    ).select_related("applicant")
    chunk = list(mine.order_by("batch_row")[:size])
    if chunk:
        return chunk
    ids = list(
        LoanApplication.objects.filter(batch_id=batch_id, status=Status.SUBMITTED)
        .order_by("batch_row")
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return []
    now = timezone.now()
    LoanApplication.objects.filter(pk__in=ids, status=Status.SUBMITTED).update(
        status=Status.SCORING, scoring_claim=task_id, scoring_claimed_at=now, updated_at=now
    )
    return list(mine.filter(pk__in=ids).order_by("batch_row"))


def _score_chunk(chunk: list[LoanApplication], task_id: str) -> None:
    scores = score_many(chunk)
    decided = [(a, s) for a, s in zip(chunk, scores, strict=True) if isinstance(s, registry.Score)]
    if decided:
        try:
            _decide_chunk(decided, task_id)
        except IntegrityError:
            # A decision already exists for one of them: settle each row on its own.
            for application, score in decided:
                services.decision_record(application=application, score=score, task_id=task_id)
    for application, result in zip(chunk, scores, strict=True):
        if isinstance(result, Exception):
            services.application_mark_failed(
                application_id=application.pk,
                task_id=task_id,
                reason=f"{result.__class__.__name__}: {result}",
            )


def score_many(applications: Sequence[LoanApplication]) -> list[registry.Score | Exception]:
    """A score, or the row's own non-transient error, for each application.

    The whole chunk is scored at once; a chunk that fails as a whole is scored again row
    by row so that one bad row cannot sink the rest. Transient errors propagate (the task
    retries).
    """
    from scoring.tasks import TRANSIENT_ERRORS

    try:
        return list(
            registry.score_records(
                application_rows=[a.application_row for a in applications],
                histories=[a.history or None for a in applications],
                external_ids=[a.applicant.external_id for a in applications],
            )
        )
    except (*TRANSIENT_ERRORS, registry.NoActiveModel):
        raise
    except Exception:
        logger.exception("scoring a chunk at once failed; scoring its rows one by one")
    results: list[registry.Score | Exception] = []
    for application in applications:
        try:
            results.append(
                registry.score_record(
                    application_row=application.application_row,
                    history=application.history or None,
                    external_id=application.applicant.external_id,
                )
            )
        except TRANSIENT_ERRORS:
            raise
        except registry.NoActiveModel:
            raise
        except Exception as error:
            results.append(error)
    return results


def _decide_chunk(decided: list[tuple[LoanApplication, registry.Score]], task_id: str) -> None:
    policy = services.current_policy()
    now = timezone.now()
    with transaction.atomic():
        held = set(
            LoanApplication.objects.select_for_update()
            .filter(pk__in=[a.pk for a, _ in decided], status=Status.SCORING, scoring_claim=task_id)
            .values_list("pk", flat=True)
        )
        decided = [(a, s) for a, s in decided if a.pk in held]
        LoanApplication.objects.filter(pk__in=held).update(
            status=Status.DECIDED, failure_reason="", updated_at=now
        )
        decisions = [
            services.decision_build(application=application, score=score, policy=policy)
            for application, score in decided
        ]
        decisions = Decision.objects.bulk_create(decisions, batch_size=bulk_batch_size(Decision))
        trail.record_many(
            [
                {
                    "action": AuditAction.APPLICATION_DECIDED,
                    "target": decision.application,
                    "payload": services.decided_payload(decision, task_id),
                }
                for decision in decisions
            ]
        )


def batch_finish_if_complete(*, batch_id: int) -> bool:
    """Mark the batch DONE (with its audit event) once none of its rows is left to score."""
    pending = LoanApplication.objects.filter(
        batch_id=batch_id, status__in=[Status.SUBMITTED, Status.SCORING]
    ).exists()
    if pending:
        return False
    with transaction.atomic():
        finished = BatchJob.objects.filter(
            pk=batch_id, status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING]
        ).update(status=BatchJob.Status.DONE, finished_at=timezone.now())
        if finished:
            progress = batch_progress(batch=BatchJob.objects.get(pk=batch_id))
            trail.record(
                action=AuditAction.BATCH_FINISHED,
                target_type=BatchJob._meta.label_lower,
                target_id=batch_id,
                payload={
                    "decided": progress["decided"],
                    "failed": progress["failed"],
                    "invalid": progress["invalid"],
                    "outcomes": progress["outcomes"],
                    "before": {"status": BatchJob.Status.RUNNING},
                    "after": {"status": BatchJob.Status.DONE},
                },
            )
    return bool(finished)


def batch_mark_failed(*, batch_id: int, task_id: str, reason: str) -> bool:
    """The batch task failed for good: fail the rows it left unscored, then the batch."""
    unscored = LoanApplication.objects.filter(batch_id=batch_id).filter(
        Q(status=Status.SUBMITTED) | Q(status=Status.SCORING, scoring_claim=task_id)
    )
    for application_id in unscored.values_list("pk", flat=True):
        services.application_mark_failed(
            application_id=application_id, task_id=task_id, reason=f"batch failed: {reason}"
        )
    with transaction.atomic():
        failed = BatchJob.objects.filter(
            pk=batch_id, status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING]
        ).update(
            status=BatchJob.Status.FAILED,
            failure_reason=reason[: services.MAX_FAILURE_REASON],
            finished_at=timezone.now(),
        )
        if failed:
            trail.record(
                action=AuditAction.BATCH_FINISHED,
                target_type=BatchJob._meta.label_lower,
                target_id=batch_id,
                payload={
                    "reason": reason[: services.MAX_FAILURE_REASON],
                    "task_id": task_id,
                    "before": {"status": BatchJob.Status.RUNNING},
                    "after": {"status": BatchJob.Status.FAILED},
                },
            )
    return bool(failed)


# --- reading -----------------------------------------------------------------------------------


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
        "outcomes": {
            outcome: outcomes.get(outcome, 0) for outcome in ("APPROVE", "REFER", "REJECT")
        },
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
