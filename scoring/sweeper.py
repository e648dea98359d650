"""The sweeper (celery beat, every minute): work whose task was lost goes back to the queue.

A worker killed mid-scoring leaves SCORING claims behind; a broker outage at submit leaves
applications SUBMITTED with no task. The sweeper frees claims older than
CREDSCOPE_SCORING_CLAIM_TIMEOUT (longer than the hard task time limit, so their task is dead)
and re-enqueues them, the applications left SUBMITTED, and idle unfinished batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from applicants.models import LoanApplication
from scoring import decide, queue
from scoring.models import BatchJob

logger = logging.getLogger(__name__)

Status = LoanApplication.Status


@dataclass
class RequeueReport:
    released_claims: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    requeued_batches: list[int] = field(default_factory=list)
    broker_unavailable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "released_claims": self.released_claims,
            "requeued": self.requeued,
            "requeued_batches": self.requeued_batches,
            "broker_unavailable": self.broker_unavailable,
        }


def stuck_applications_requeue(
    *,
    older_than: timedelta,
    claim_older_than: timedelta | None = None,
    limit: int = 1000,
) -> RequeueReport:
    """Re-enqueue applications stuck in SUBMITTED or SCORING; return what was done.

    - SCORING with a claim older than `claim_older_than` (default
      CREDSCOPE_SCORING_CLAIM_TIMEOUT): the task holding it is dead; the claim is released
      (SCORING -> SUBMITTED, with an audit event) and the application re-enqueued.
    - SUBMITTED and untouched for `older_than`: its task was lost (a broker outage at submit,
      a purged queue); re-enqueued, and touched so the next sweep waits `older_than` again.
      A duplicate of a task still in the queue is harmless: the claim lets one through.
    - Unfinished batches with no activity for `older_than`: `score_batch` is sent again.
    Stops quietly at the first broker error (the next sweep tries again).
    """
    if claim_older_than is None:
        claim_older_than = timedelta(seconds=settings.CREDSCOPE_SCORING_CLAIM_TIMEOUT)
    now = timezone.now()
    report = RequeueReport()
    stale = LoanApplication.objects.filter(
        status=Status.SCORING, scoring_claimed_at__lt=now - claim_older_than
    ).values_list("pk", "scoring_claim", "batch_id")[:limit]
    released_singles = []
    for application_id, claim, batch_id in stale:
        with transaction.atomic():
            released = LoanApplication.objects.filter(
                pk=application_id, status=Status.SCORING, scoring_claim=claim
            ).update(
                status=Status.SUBMITTED, scoring_claim="", scoring_claimed_at=None, updated_at=now
            )
            if released:
                decide.record_requeued(
                    application_id,
                    claim=claim,
                    reason=f"claim older than {claim_older_than.total_seconds():.0f}s",
                )
        if released:
            report.released_claims.append(application_id)
            if batch_id is None:
                released_singles.append(application_id)
    waiting = list(
        LoanApplication.objects.filter(
            status=Status.SUBMITTED, batch__isnull=True, updated_at__lt=now - older_than
        )
        .order_by("submitted_at")
        .values_list("pk", flat=True)[:limit]
    )
    for application_id in dict.fromkeys(released_singles + waiting):
        try:
            queue.application_scoring_enqueue(application_id=application_id)
        except queue.ScoringQueueUnavailable:
            report.broker_unavailable = True
            return report
        LoanApplication.objects.filter(pk=application_id, status=Status.SUBMITTED).update(
            updated_at=timezone.now()
        )
        report.requeued.append(application_id)
    for batch_id in _idle_batches(now - older_than):
        try:
            queue.batch_scoring_enqueue(batch_id=batch_id)
        except queue.ScoringQueueUnavailable:
            report.broker_unavailable = True
            return report
        report.requeued_batches.append(batch_id)
    if report.released_claims or report.requeued or report.requeued_batches:
        logger.info("sweeper: %s", report.as_dict())
    return report


def _idle_batches(idle_since: Any) -> list[int]:
    """Unfinished batches with nothing in SCORING and no application touched lately."""
    unfinished = BatchJob.objects.filter(
        status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING], created_at__lt=idle_since
    ).annotate(last_activity=Max("applications__updated_at"))
    idle = []
    for batch in unfinished:
        if batch.last_activity is not None and batch.last_activity >= idle_since:
            continue
        if batch.applications.filter(status=Status.SCORING).exists():
            continue
        idle.append(batch.pk)
    return idle
