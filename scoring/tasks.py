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
from django.conf import settings

from applicants.models import LoanApplication
from scoring import decide, sweeper
from scoring.decide import TRANSIENT_ERRORS
from scoring.models import BatchJob

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
            decide.batch_mark_failed(
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
    """Score a batch's applications in bulk, chunk by chunk, and finish the batch."""
    try:
        decide.batch_decide(batch_id=batch_id, task_id=self.request.id)
    except BatchJob.DoesNotExist:
        logger.warning("batch %s no longer exists; nothing to score", batch_id)


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


def _test_gate(application_id: int) -> None:
    """Test-only: announce the claim on Redis, then wait until the test opens the gate.

    Active only when CREDSCOPE_SCORING_TEST_GATE names a Redis key (never in production), so
    a test can kill a worker at a known point of scoring without touching the scorer.
    """

    key = settings.CREDSCOPE_SCORING_TEST_GATE
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(f"{key}:claimed", application_id)
    client.blpop([f"{key}:open"], timeout=settings.CREDSCOPE_SCORING_TEST_GATE_TIMEOUT)
