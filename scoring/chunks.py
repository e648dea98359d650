"""A batch split into chunk tasks, so that any number of workers, on any machines, share it.

`score_batch` plans: it starts the batch and cuts its SUBMITTED rows into ranges of
`batch_row` of CREDSCOPE_BATCH_CHUNK_SIZE rows, and sends one `score_batch_chunk` per range
(a Celery group). Each chunk claims its rows with one conditional update, decides them through
`scoring.decide`, and then asks whether the batch is complete; the chunk that finds no row
left to score finishes it. No counter is kept: progress is counted from the rows' own states
in one statement (`scoring.selectors.batch_progress`), so concurrent chunks cannot lose an
update, and a chunk retried or redelivered counts nothing twice.

Why ranges and not a chord: a chord's callback waits on every header result in the result
backend and fails as a whole when one chunk fails; here a failed chunk is retried alone (same
task id, so it carries on with its own claims), and the last chunk to end, whichever it is,
finishes the batch. A chunk lost with its worker leaves SCORING claims; the sweeper frees
them and sends `score_batch` again, which plans only the rows left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from applicants.models import LoanApplication
from audits import trail
from audits.actions import AuditAction
from scoring.decide import MAX_FAILURE_REASON, application_mark_failed, claimed_decide
from scoring.models import BatchJob
from scoring.selectors import batch_progress

logger = logging.getLogger(__name__)

Status = LoanApplication.Status


def batch_chunks_plan(*, batch_id: int) -> list[tuple[int, int]]:
    """Start the batch (QUEUED -> RUNNING) and split its rows left to score into ranges of
    `batch_row` of at most CREDSCOPE_BATCH_CHUNK_SIZE applications, one chunk task each.

    Safe to call again (the sweeper does, for an idle batch): only SUBMITTED rows are planned,
    and a range that overlaps a running chunk costs nothing, since each row is claimed once.
    """
    batch = BatchJob.objects.get(pk=batch_id)
    if batch.status in (BatchJob.Status.DONE, BatchJob.Status.FAILED):
        return []
    BatchJob.objects.filter(pk=batch_id, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING
    )
    rows = list(
        LoanApplication.objects.filter(batch_id=batch_id, status=Status.SUBMITTED)
        .order_by("batch_row")
        .values_list("batch_row", flat=True)
    )
    if not rows:  # nothing left (every row invalid, or all decided): finish now
        batch_finish_if_complete(batch_id=batch_id)
        return []
    size = settings.CREDSCOPE_BATCH_CHUNK_SIZE
    return [(rows[i], rows[min(i + size, len(rows)) - 1]) for i in range(0, len(rows), size)]


def batch_chunk_decide(
    *,
    batch_id: int,
    first_row: int,
    last_row: int,
    task_id: str,
    on_claimed: Callable[[str], None] | None = None,
) -> int:
    """Claim, score and decide the batch's rows `first_row..last_row`; finish the batch when
    it was the last chunk. Returns how many rows this call decided.

    A redelivered or retried chunk task (same task id) carries on with its own claims; rows
    another task claimed or finished are left alone, so each row is decided once.
    """
    chunk = _claim_chunk(batch_id, first_row, last_row, task_id)
    if chunk and on_claimed is not None:
        on_claimed(f"{batch_id}:{first_row}-{last_row}")
    decisions = claimed_decide(applications=chunk, task_id=task_id)
    batch_finish_if_complete(batch_id=batch_id)
    return len(decisions)


def batch_decide(*, batch_id: int, task_id: str) -> BatchJob:
    """Decide every row left in the batch here, chunk after chunk (a command, or a rerun)."""
    for first_row, last_row in batch_chunks_plan(batch_id=batch_id):
        batch_chunk_decide(
            batch_id=batch_id, first_row=first_row, last_row=last_row, task_id=task_id
        )
    return BatchJob.objects.get(pk=batch_id)


def _claim_chunk(
    batch_id: int, first_row: int, last_row: int, task_id: str
) -> list[LoanApplication]:
    """The chunk's rows this task holds: those it claimed before (a redelivered task carries
    on) and those still SUBMITTED, claimed now with one conditional update."""
    rows = LoanApplication.objects.filter(
        batch_id=batch_id, batch_row__gte=first_row, batch_row__lte=last_row
    )
    now = timezone.now()
    rows.filter(status=Status.SUBMITTED).update(
        status=Status.SCORING,
        scoring_claim=task_id,
        scoring_claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return list(
        rows.filter(status=Status.SCORING, scoring_claim=task_id)
        .select_related("applicant")
        .order_by("batch_row")
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


def batch_chunk_mark_failed(
    *, batch_id: int, first_row: int, last_row: int, task_id: str, reason: str
) -> int:
    """A chunk task failed for good: fail the chunk's rows it left unscored (the other chunks
    go on), then finish the batch if this was the last chunk. Returns how many it failed."""
    unscored = LoanApplication.objects.filter(
        batch_id=batch_id, batch_row__gte=first_row, batch_row__lte=last_row
    ).filter(Q(status=Status.SUBMITTED) | Q(status=Status.SCORING, scoring_claim=task_id))
    failed = sum(
        application_mark_failed(
            application_id=application_id, task_id=task_id, reason=f"chunk failed: {reason}"
        )
        for application_id in unscored.values_list("pk", flat=True)
    )
    batch_finish_if_complete(batch_id=batch_id)
    return failed


def batch_mark_failed(*, batch_id: int, task_id: str, reason: str) -> bool:
    """The batch task failed for good: fail the rows it left unscored, then the batch."""
    unscored = LoanApplication.objects.filter(batch_id=batch_id).filter(
        Q(status=Status.SUBMITTED) | Q(status=Status.SCORING, scoring_claim=task_id)
    )
    for application_id in unscored.values_list("pk", flat=True):
        application_mark_failed(
            application_id=application_id, task_id=task_id, reason=f"batch failed: {reason}"
        )
    with transaction.atomic():
        failed = BatchJob.objects.filter(
            pk=batch_id, status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING]
        ).update(
            status=BatchJob.Status.FAILED,
            failure_reason=reason[:MAX_FAILURE_REASON],
            finished_at=timezone.now(),
        )
        if failed:
            trail.record(
                action=AuditAction.BATCH_FINISHED,
                target_type=BatchJob._meta.label_lower,
                target_id=batch_id,
                payload={
                    "reason": reason[:MAX_FAILURE_REASON],
                    "task_id": task_id,
                    "before": {"status": BatchJob.Status.RUNNING},
                    "after": {"status": BatchJob.Status.FAILED},
                },
            )
    return bool(failed)
