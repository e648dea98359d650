"""Writes of the audits app other than appending to the trail: chain verification runs."""

from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from audits.models import ChainVerificationRun
from credscope_site import task_queue

logger = logging.getLogger(__name__)

#: Enqueued by name, so this module never imports the tasks that call it.
VERIFY_TASK = "audits.tasks.verify_audit_trail"
Status = ChainVerificationRun.Status


@transaction.atomic
def verification_run_request(*, user: AbstractBaseUser | None) -> ChainVerificationRun:
    """Ask a worker to verify the chain; the run is PENDING until it reports."""
    run = ChainVerificationRun.objects.create(requested_by=user, requested_at=timezone.now())
    trail.record(
        action=AuditAction.TRAIL_VERIFICATION_REQUESTED,
        actor=user,
        target_type=ChainVerificationRun._meta.label_lower,
        target_id=run.pk,
        payload={"run_id": run.pk},
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    try:
        task_queue.task_send(VERIFY_TASK, [run_id])
    except task_queue.BROKER_ERRORS as error:
        logger.warning("broker unavailable, chain verification %s not queued: %s", run_id, error)
        ChainVerificationRun.objects.filter(pk=run_id, status=Status.PENDING).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            verdict="The task queue is unavailable; try again in a few minutes.",
        )


def verification_run_execute(*, run_id: int | None = None) -> ChainVerificationRun | None:
    """Run `trail.verify()` for a requested run (or a new one, for the nightly beat) and store
    the verdict. Returns None when the run is gone or another worker already claimed it."""
    if run_id is None:
        run_id = ChainVerificationRun.objects.create(requested_at=timezone.now()).pk
    claimed = ChainVerificationRun.objects.filter(pk=run_id, status=Status.PENDING).update(
        status=Status.RUNNING
    )
    if claimed != 1:
        logger.info("chain verification %s already claimed or gone", run_id)
        return None
    try:
        result = trail.verify()
    except Exception as error:
        # Stored so the page says the check did not run, instead of waiting forever.
        ChainVerificationRun.objects.filter(pk=run_id).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            verdict=f"Verification could not run: {error.__class__.__name__}: {error}"[:2000],
        )
        raise
    return _store_result(run_id, result)


@transaction.atomic
def _store_result(run_id: int, result: trail.ChainVerification) -> ChainVerificationRun:
    run = ChainVerificationRun.objects.select_for_update().get(pk=run_id)
    run.status = Status.INTACT if result.intact else Status.BROKEN
    run.finished_at = timezone.now()
    run.events_checked = result.checked
    run.head_sequence = result.head_sequence
    run.checkpoints_checked = result.checkpoints_checked
    run.checkpoint_reached = result.checkpoint_reached or ""
    run.verdict = result.verdict
    run.save()
    trail.record(
        action=AuditAction.TRAIL_VERIFIED,
        target_type=ChainVerificationRun._meta.label_lower,
        target_id=run.pk,
        payload={
            "run_id": run.pk,
            "intact": result.intact,
            "events_checked": result.checked,
            "checkpoint_reached": result.checkpoint_reached,
            "verdict": result.verdict,
        },
    )
    if result.intact:
        logger.info("audit trail %s", result.verdict)
    else:
        logger.error("audit trail %s", result.verdict)
    return run


def trail_export_record(*, user: AbstractBaseUser, filters: dict[str, str]) -> None:
    """Who took a copy of the trail, and with which filters, is itself on the trail."""
    trail.record(action=AuditAction.TRAIL_EXPORTED, actor=user, payload={"filters": filters})
