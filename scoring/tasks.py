"""Celery tasks of the scoring side: thin doors onto `scoring.decide` and `scoring.sweeper`.

They take ids, never objects. Retries are declared and only for transient errors (a database
or broker that hiccups), with exponential backoff, jitter and a cap; the numbers and the time
limits live in settings. When a task fails for good (a non-transient error, or the last retry
spent) the application is marked FAILED with the reason by `on_failure`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import redis
from celery import Task, shared_task
from celery.concurrency import thread
from celery.signals import worker_init, worker_process_init, worker_ready
from django.conf import settings

from applicants.models import LoanApplication
from credscope_site.process_heap import heap_freeze
from scoring import challenger, chunks, decide, drift, queue, registry, sweeper
from scoring.decide import TRANSIENT_ERRORS
from scoring.lease import ClaimLease
from scoring.ml.serving import forest
from scoring.models import BatchJob, DriftReport

logger = logging.getLogger(__name__)

_RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": settings.CREDSCOPE_SCORING_RETRY_BACKOFF,
    "retry_backoff_max": settings.CREDSCOPE_SCORING_RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": settings.CREDSCOPE_SCORING_MAX_RETRIES,
}


def failure_reason(exc: BaseException, retries: int) -> str:
    kind = "transient error, retries exhausted" if isinstance(exc, TRANSIENT_ERRORS) else "error"
    return f"{kind} after {retries + 1} attempt(s): {exc.__class__.__name__}: {exc}"


class ScoreApplicationTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        application_id = args[0] if args else kwargs.get("application_id")
        try:
            decide.application_mark_failed(
                application_id=application_id,
                task_id=task_id,
                reason=failure_reason(exc, self.request.retries),
            )
        except Exception:  # the database may be what failed; the sweeper retries later
            logger.exception("could not mark application %s FAILED", application_id)


@shared_task(
    bind=True,
    base=ScoreApplicationTask,
    name="scoring.tasks.score_application",
    ignore_result=True,
    **_RETRY_OPTIONS,
)
def score_application(self: Task, application_id: int) -> None:
    """Score one application and save its decision (idempotent; see scoring.decide)."""
    try:
        with ClaimLease(task_id=self.request.id):  # renewed while this worker lives
            decide.application_decide(
                application_id=application_id,
                task_id=self.request.id,
                on_claimed=_test_gate if settings.CREDSCOPE_SCORING_TEST_GATE else None,
            )
    except LoanApplication.DoesNotExist:
        logger.warning("application %s no longer exists; nothing to score", application_id)


class ScoreBatchTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        batch_id = args[0] if args else kwargs.get("batch_id")
        try:
            chunks.batch_mark_failed(
                batch_id=batch_id, task_id=task_id, reason=failure_reason(exc, self.request.retries)
            )
        except Exception:
            logger.exception("could not mark batch %s failed", batch_id)


@shared_task(
    bind=True,
    base=ScoreBatchTask,
    name="scoring.tasks.score_batch",
    ignore_result=True,
    **_RETRY_OPTIONS,
)
def score_batch(self: Task, batch_id: int) -> None:
    """Start a batch and send its rows left to score as chunk tasks (see scoring.chunks)."""
    try:
        planned = chunks.batch_chunks_plan(batch_id=batch_id)
    except BatchJob.DoesNotExist:
        logger.warning("batch %s no longer exists; nothing to score", batch_id)
        return
    try:
        queue.batch_chunks_enqueue(batch_id=batch_id, chunks=planned)
    except queue.BatchQueueUnavailable:
        logger.warning("batch %s: chunks not all sent; the sweeper plans the rest", batch_id)


class ScoreBatchChunkTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        batch_id, first_row, last_row = args
        try:
            chunks.batch_chunk_mark_failed(
                batch_id=batch_id,
                first_row=first_row,
                last_row=last_row,
                task_id=task_id,
                reason=failure_reason(exc, self.request.retries),
            )
        except Exception:  # the database may be what failed; the sweeper retries later
            logger.exception("could not fail chunk %s-%s of batch %s",
                             first_row, last_row, batch_id)  # fmt: skip


@shared_task(
    bind=True,
    base=ScoreBatchChunkTask,
    name="scoring.tasks.score_batch_chunk",
    ignore_result=True,
    **_RETRY_OPTIONS,
)
def score_batch_chunk(self: Task, batch_id: int, first_row: int, last_row: int) -> None:
    """Decide the batch's rows first_row..last_row; retried alone on a transient error."""
    with ClaimLease(task_id=self.request.id):  # renewed while this worker lives
        chunks.batch_chunk_decide(
            batch_id=batch_id,
            first_row=first_row,
            last_row=last_row,
            task_id=self.request.id,
            on_claimed=_test_gate if settings.CREDSCOPE_SCORING_TEST_GATE else None,
        )


@shared_task(
    name="scoring.tasks.score_challenger",
    ignore_result=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=settings.CREDSCOPE_SCORING_RETRY_BACKOFF,
    retry_backoff_max=settings.CREDSCOPE_SCORING_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.CREDSCOPE_SCORING_MAX_RETRIES,
)
def score_challenger(decision_ids: list[int], version: str) -> int:
    """The challenger's shadow scores of saved decisions (see scoring.challenger)."""
    return challenger.challenger_decisions_score(decision_ids=decision_ids, version=version)


@shared_task(name="scoring.tasks.compute_weekly_drift")
def compute_weekly_drift() -> int | None:
    """Celery beat's weekly drift check of the active model; returns the stored report's id
    (None without an active model)."""
    report = drift.drift_report_record(trigger=DriftReport.Trigger.SCHEDULE)
    return None if report is None else report.pk


@shared_task(name="scoring.tasks.requeue_stuck_applications")
def requeue_stuck_applications(
    older_than_seconds: float | None = None, claim_older_than_seconds: float | None = None
) -> dict[str, Any]:
    """The sweeper, run by celery beat: see `sweeper.stuck_applications_requeue`."""
    older_than = (
        settings.CREDSCOPE_SWEEP_SUBMITTED_AFTER
        if older_than_seconds is None
        else older_than_seconds
    )
    report = sweeper.stuck_applications_requeue(
        older_than=timedelta(seconds=older_than),
        claim_older_than=(
            None
            if claim_older_than_seconds is None
            else timedelta(seconds=claim_older_than_seconds)
        ),
    )
    return report.as_dict()


# --- one core per worker process -------------------------------------------------------------
# A worker runs one process per core (prefork's default concurrency; with the solo pool, one
# worker per core). Each scores on its own core: SHAP's threads would compete with the
# sibling processes' and make the pool slower than its processes alone. `worker_init` runs
# before the pool starts (its children are forked after it and keep the setting);
# `worker_process_init` says it again in each child, in case a pool starts them otherwise.


@worker_init.connect
@worker_process_init.connect
def _score_on_one_core(**_: Any) -> None:
    forest.shap_threads_allow(False)


# --- warm start ------------------------------------------------------------------------------
# A worker loads and compiles the active model before it takes a task, in the process that
# scores: each child of a prefork pool, or the worker itself with the solo pool (which sends
# `worker_process_init` too) or the threads pool (which does not: it warms when ready).


@worker_process_init.connect
def _warm_pool_child(**_: Any) -> None:
    if settings.CREDSCOPE_WARM_START:
        registry.scorer_warm()
        heap_freeze()
        registry.activation_listener_start()


@worker_ready.connect
def _warm_in_process_worker(sender: Any = None, **_: Any) -> None:
    pool = getattr(sender, "pool", None)
    if settings.CREDSCOPE_WARM_START and isinstance(pool, thread.TaskPool):
        registry.scorer_warm()
        heap_freeze()
        registry.activation_listener_start()


def _test_gate(claimed: int | str) -> None:
    """Test-only: announce the claim on Redis, then wait until the test opens the gate.

    Active only when CREDSCOPE_SCORING_TEST_GATE names a Redis key (never in production), so
    a test can kill a worker at a known point of scoring without touching the scorer.
    """

    key = settings.CREDSCOPE_SCORING_TEST_GATE
    # The socket must wait as long as the gate may stay shut (redis-py's default gives up
    # after a few seconds, which a test holding the task longer would see as a failure).
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=settings.CREDSCOPE_SCORING_TEST_GATE_TIMEOUT + 10
    )
    client.rpush(f"{key}:claimed", claimed)
    client.blpop([f"{key}:open"], timeout=settings.CREDSCOPE_SCORING_TEST_GATE_TIMEOUT)
