"""A batch split into chunk tasks, so that any number of workers, on any machines, share it.

`score_batch` plans: it starts the batch and sends one `score_batch_chunk` per range of
`batch_row` (a Celery group): the ranges of rows the upload left in intakes
(`BatchIntake`, CREDSCOPE_BATCH_CHUNK_SIZE rows each), and any SUBMITTED rows cut into ranges
of that size. Each chunk saves its range's intake rows as applications, claimed by itself in
the same transaction, claims any SUBMITTED row of its range with one conditional update,
decides them through `scoring.decide`, and then asks whether the batch is complete; the chunk
that finds no row left to save or score finishes it. No counter is kept: progress is counted
from the rows' own states in one statement (`scoring.selectors.batch_progress`), against the
valid rows the upload counted, so concurrent chunks cannot lose an update, and a chunk
retried or redelivered counts nothing twice.

Why ranges and not a chord: a chord's callback waits on every header result in the result
backend and fails as a whole when one chunk fails; here a failed chunk is retried alone (same
task id, so it carries on with its own claims), and the last chunk to end, whichever it is,
finishes the batch. A chunk lost with its worker leaves SCORING claims; the sweeper frees
them and sends `score_batch` again, which plans only the rows left. A chunk lost while
saving its intake saved nothing (one transaction): the intake is still there to plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from applicants.columns import applicant_fields, application_fields, submitted_payload
from applicants.models import Applicant, LoanApplication
from audits import trail
from audits.actions import AuditAction
from credscope_site.bulk import bulk_insert
from scoring.decide import MAX_FAILURE_REASON, application_mark_failed, claimed_decide
from scoring.models import BatchIntake, BatchJob
from scoring.selectors import batch_progress

logger = logging.getLogger(__name__)

Status = LoanApplication.Status
#: Past any batch's last row (CREDSCOPE_BATCH_MAX_ROWS is far below it).
MAX_ROW = 2**31 - 1


def batch_chunks_plan(*, batch_id: int) -> list[tuple[int, int]]:
    """Start the batch (QUEUED -> RUNNING) and split its rows left to save or score into
    ranges of `batch_row`, one chunk task each: the intakes' ranges, and the SUBMITTED rows in
    ranges of at most CREDSCOPE_BATCH_CHUNK_SIZE.

    Safe to call again (the sweeper does, for an idle batch): only rows not yet taken are
    planned, and a range that overlaps a running chunk costs nothing, since an intake is saved
    once (under a row lock) and each row is claimed once.
    """
    batch = BatchJob.objects.get(pk=batch_id)
    if batch.status in (BatchJob.Status.DONE, BatchJob.Status.FAILED):
        return []
    BatchJob.objects.filter(pk=batch_id, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING
    )
    staged = list(
        BatchIntake.objects.filter(batch_id=batch_id)
        .order_by("first_row")
        .values_list("first_row", "last_row")
    )
    rows = list(
        LoanApplication.objects.filter(batch_id=batch_id, status=Status.SUBMITTED)
        .order_by("batch_row")
        .values_list("batch_row", flat=True)
    )
    if not rows and not staged:  # nothing left (every row invalid, or all decided)
        batch_finish_if_complete(batch_id=batch_id)
        return []
    size = settings.CREDSCOPE_BATCH_CHUNK_SIZE
    submitted = [(rows[i], rows[min(i + size, len(rows)) - 1]) for i in range(0, len(rows), size)]
    return sorted(staged + submitted)


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
    # An intake holds every row of its range: when this call saved one, those are the chunk.
    chunk = _intake_save(batch_id, first_row, last_row, task_id) or _claim_chunk(
        batch_id, first_row, last_row, task_id
    )
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


def _intake_save(
    batch_id: int, first_row: int, last_row: int, task_id: str
) -> list[LoanApplication]:
    """Save the rows of the batch's intakes within `first_row..last_row` as applicants and
    applications claimed for this task, with their SUBMITTED audit events, and delete the
    intakes: one transaction, so a task killed here saved nothing and its intakes stay to be
    planned again. Returns the saved applications (none when another task already had them).

    The applications are written claimed (SCORING) at once and handed to the decision as
    they are: a SUBMITTED insert, an UPDATE to claim it and a read back cost the worker over a
    third more CPU per row (45.5 s against 33.3 s per 10,000). They keep the upload's time as
    their submission time: the officer submitted them then, whenever a worker got to them.
    """
    with transaction.atomic():
        intakes = list(
            BatchIntake.objects.select_for_update()
            .filter(batch_id=batch_id, first_row__gte=first_row, last_row__lte=last_row)
            .order_by("first_row")
        )
        if not intakes:
            return []
        batch = BatchJob.objects.select_related("created_by").get(pk=batch_id)
        actor = batch.created_by
        lines = [line for intake in intakes for line in intake.lines]
        applicants = bulk_insert(
            Applicant,
            [
                Applicant(**applicant_fields(row, full_name, external_id, actor))
                for _, row, external_id, full_name in lines
            ],
        )
        now = timezone.now()
        claimed = {
            "status": Status.SCORING,
            "scoring_claim": task_id,
            "scoring_claimed_at": now,
            "attempts": 1,
            "submitted_at": batch.created_at,
        }
        applications = bulk_insert(
            LoanApplication,
            [
                LoanApplication(
                    applicant=applicant,
                    batch=batch,
                    batch_row=number,
                    **{
                        **application_fields(row, {}, actor, LoanApplication.Channel.BATCH),
                        **claimed,
                    },
                )
                for applicant, (number, row, _, _) in zip(applicants, lines, strict=True)
            ],
            as_given=("submitted_at",),
        )
        trail.record_many(
            [
                {
                    "action": AuditAction.APPLICATION_SUBMITTED,
                    "actor": actor,
                    "target": application,
                    # What the officer's upload did; the claim that followed is the task's.
                    "payload": {
                        **submitted_payload(application),
                        "after": {"status": Status.SUBMITTED},
                    },
                }
                for application in applications
            ]
        )
        BatchIntake.objects.filter(pk__in=[intake.pk for intake in intakes]).delete()
    return applications


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
    pending = (
        LoanApplication.objects.filter(
            batch_id=batch_id, status__in=[Status.SUBMITTED, Status.SCORING]
        ).exists()
        or BatchIntake.objects.filter(batch_id=batch_id).exists()
    )
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
    """A chunk task failed for good: fail the chunk's rows it left unscored, saving those
    still in an intake first (the other chunks go on), then finish the batch if this was the
    last chunk. Returns how many it failed."""
    _intake_save_or_leave(batch_id, first_row, last_row, task_id)
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
    """The batch task failed for good: fail the rows it left unscored, saving those still in
    an intake first, then the batch."""
    _intake_save_or_leave(batch_id, 0, MAX_ROW, task_id)
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


def _intake_save_or_leave(batch_id: int, first_row: int, last_row: int, task_id: str) -> None:
    """Save a failed task's intake rows so that they can be failed with the rest. When even
    that fails, they stay in their intake and the batch unfinished: the sweeper plans it again
    once it has been idle, rather than failing rows nobody could record."""
    try:
        _intake_save(batch_id, first_row, last_row, task_id)
    except Exception:
        logger.exception("batch %s: rows %s-%s stay in their intake", batch_id, first_row, last_row)
