"""Writes of the scoring side: deciding an application, failing it, the sweeper, the policy.

Scoring an application is safe to run twice, from any number of workers:

1. **Claim.** A conditional update moves the application SUBMITTED -> SCORING and writes the
   task's id into `scoring_claim`. Only a task that changed exactly one row carries on. The
   same task, redelivered or retried (Celery keeps the task id), may carry on with its own
   claim; any other task stops.
2. **Score** outside any transaction (the model is slow compared with a row lock).
3. **Decide** in one transaction: a second conditional update (still SCORING, still our
   claim) moves it to DECIDED, the `Decision` row is created and the audit event recorded.
   The one-to-one `Decision.application` is the final guard: a second decision cannot exist.

A worker killed mid-scoring leaves a SCORING claim behind. The sweeper frees claims older than
CREDSCOPE_SCORING_CLAIM_TIMEOUT (longer than the hard task time limit, so their task is dead)
and re-enqueues them and anything left SUBMITTED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from applicants.models import LoanApplication
from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring import registry
from scoring.models import BatchJob, Decision, DecisionPolicy
from scoring.policy import THRESHOLD_FIELDS, policy_apply, threshold_errors
from scoring.reasons import reasons_from_contributions

logger = logging.getLogger(__name__)

Status = LoanApplication.Status
MAX_FAILURE_REASON = 2000


class ScoringQueueUnavailable(Exception):
    """The broker refused the scoring task. The application is saved (SUBMITTED) and the
    sweeper will queue it again; callers tell the client to retry later."""

    def __init__(self, *, kind: str, object_id: int) -> None:
        super().__init__(
            f"the scoring queue is unavailable; {kind} {object_id} is saved and will be "
            "scored when the queue is back"
        )
        self.kind = kind
        self.object_id = object_id


class PolicyInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- queueing ----------------------------------------------------------------------------------


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (KombuOperationalError, RedisConnectionError, RedisTimeoutError, OSError)


def application_scoring_enqueue(*, application_id: int) -> None:
    """Send `score_application(application_id)` to the queue; call it after commit.

    Raises `ScoringQueueUnavailable` when the broker cannot take it. When tasks run in
    process (no broker configured), the task has already recorded any failure on the
    application itself, so its exception is logged rather than raised into the caller.
    """
    from scoring.tasks import score_application

    _send(score_application, application_id, kind="application")


def batch_scoring_enqueue(*, batch_id: int) -> None:
    """Send `score_batch(batch_id)` to the queue; call it after commit."""
    from scoring.tasks import score_batch

    _send(score_batch, batch_id, kind="batch")


def _send(task: Any, object_id: int, *, kind: str) -> None:
    from credscope_site.celery import app

    if app.conf.task_always_eager:
        try:
            task.delay(object_id)
        except Exception:  # the in-process task already recorded its failure on the row
            logger.exception("in-process scoring of %s %s failed", kind, object_id)
        return
    try:
        task.delay(object_id)
    except _broker_errors() as error:
        logger.warning("broker unavailable, %s %s left for the sweeper: %s", kind, object_id, error)
        raise ScoringQueueUnavailable(kind=kind, object_id=object_id) from error


# --- scoring one application -------------------------------------------------------------------


def application_score(
    *,
    application_id: int,
    task_id: str,
    on_claimed: Callable[[int], None] | None = None,
) -> Decision | None:
    """Claim, score and decide one application; None when another task holds or finished it.

    Raises `LoanApplication.DoesNotExist` when the application is gone, and whatever the
    scorer raises (the task decides which errors are worth a retry). `on_claimed` runs right
    after the claim (the worker-resilience tests use it to hold a task mid-scoring).
    """
    application = _claim(application_id, task_id)
    if application is None:
        return None
    if on_claimed is not None:
        on_claimed(application_id)
    score = registry.score_record(
        application_row=application.application_row,
        history=application.history or None,
        external_id=application.applicant.external_id,
    )
    return decision_record(application=application, score=score, task_id=task_id)


def application_score_or_enqueue(*, application_id: int, task_id: str) -> Decision | None:
    """Score in this process (a request that asked to wait); on any failure, release the
    claim and queue the application, where retries and FAILED are handled.

    May raise `ScoringQueueUnavailable` when that fallback finds the broker down.
    """
    try:
        return application_score(application_id=application_id, task_id=task_id)
    except Exception:
        logger.exception(
            "scoring application %s in the request failed; queueing it", application_id
        )
        application_claim_release(application_id=application_id, task_id=task_id)
        application_scoring_enqueue(application_id=application_id)
        return None


def decision_record(
    *, application: LoanApplication, score: registry.Score, task_id: str
) -> Decision | None:
    """Save the decision for a claimed application: Decision + DECIDED + audit event, in one
    transaction. None (and nothing written) if the claim is no longer ours or a decision
    already exists."""
    decision = decision_build(application=application, score=score, policy=current_policy())
    now = timezone.now()
    try:
        with transaction.atomic():
            moved = LoanApplication.objects.filter(
                pk=application.pk, status=Status.SCORING, scoring_claim=task_id
            ).update(status=Status.DECIDED, failure_reason="", updated_at=now)
            if moved != 1:
                logger.info(
                    "application %s: claim %s lost before deciding", application.pk, task_id
                )
                return None
            decision.save(force_insert=True)
            trail.record(
                action=AuditAction.APPLICATION_DECIDED,
                target=application,
                payload=decided_payload(decision, task_id),
            )
    except IntegrityError:
        logger.info("application %s already has a decision; not deciding twice", application.pk)
        return None
    application.status = Status.DECIDED
    return decision


def decision_build(
    *, application: LoanApplication, score: registry.Score, policy: DecisionPolicy
) -> Decision:
    """The (unsaved) decision a score makes under `policy`: band, outcome, reasons, and the
    contributions worth storing."""
    result = policy_apply(score.probability_of_default, policy)
    return Decision(
        application=application,
        probability_of_default=score.probability_of_default,
        logit=score.logit,
        risk_band=result.risk_band,
        outcome=result.outcome,
        model_version=score.model_version,
        policy=policy,
        reasons=reasons_from_contributions(score.contributions),
        base_value=score.base_value,
        contributions=stored_contributions(score.contributions),
        scoring_latency_ms=score.latency_ms,
    )


def stored_contributions(contributions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contributions worth storing: every feature that moved the score. Features with an
    exact zero (unused by every tree) add nothing to the sum, so the explanation still adds
    up to the logit without them. Numbers are rounded for storage, which halves the document:
    contributions to 1e-12 (a few hundred of them still add up to the logit within 1e-9) and
    values to 7 significant digits, the precision the model reads them at (float32)."""
    return [
        {
            "feature": item["feature"],
            "value": _stored_value(item["value"]),
            "contribution": round(item["contribution"], 12),
        }
        for item in contributions
        if item.get("contribution") != 0.0
    ]


def _stored_value(value: Any) -> Any:
    return float(f"{value:.7g}") if isinstance(value, float) else value


def decided_payload(decision: Decision, task_id: str) -> dict[str, Any]:
    return {
        "decision_id": decision.pk,
        "task_id": task_id,
        "before": {"status": Status.SCORING},
        "after": {
            "status": Status.DECIDED,
            "outcome": decision.outcome,
            "risk_band": decision.risk_band,
            "probability_of_default": decision.probability_of_default,
        },
        "model_version": decision.model_version.version,
        "policy_version": decision.policy.version,
        "reasons": [reason["code"] for reason in decision.reasons],
        "latency_ms": round(decision.scoring_latency_ms, 3),
    }


def application_mark_failed(*, application_id: int, task_id: str, reason: str) -> bool:
    """Move an application this task holds (or nobody holds yet) to FAILED with `reason`.

    False when there is nothing to fail: it is gone, decided, already failed, or another
    task's claim.
    """
    with transaction.atomic():
        current = (
            LoanApplication.objects.filter(pk=application_id)
            .values("status", "scoring_claim", "attempts")
            .first()
        )
        if current is None:
            return False
        moved = (
            LoanApplication.objects.filter(pk=application_id)
            .filter(Q(status=Status.SUBMITTED) | Q(status=Status.SCORING, scoring_claim=task_id))
            .update(
                status=Status.FAILED,
                failure_reason=reason[:MAX_FAILURE_REASON],
                updated_at=timezone.now(),
            )
        )
        if moved != 1:
            return False
        trail.record(
            action=AuditAction.APPLICATION_FAILED,
            target_type=LoanApplication._meta.label_lower,
            target_id=application_id,
            payload={
                "task_id": task_id,
                "reason": reason[:MAX_FAILURE_REASON],
                "attempts": current["attempts"],
                "before": {"status": current["status"]},
                "after": {"status": Status.FAILED},
            },
        )
    logger.warning("application %s failed: %s", application_id, reason)
    return True


def application_claim_release(*, application_id: int, task_id: str) -> bool:
    """Give back this task's claim (SCORING -> SUBMITTED) so another task may score it."""
    with transaction.atomic():
        released = LoanApplication.objects.filter(
            pk=application_id, status=Status.SCORING, scoring_claim=task_id
        ).update(
            status=Status.SUBMITTED,
            scoring_claim="",
            scoring_claimed_at=None,
            updated_at=timezone.now(),
        )
        if released:
            _record_requeued(application_id, claim=task_id, reason="released by its scorer")
    return bool(released)


def _claim(application_id: int, task_id: str) -> LoanApplication | None:
    now = timezone.now()
    claimed = (
        LoanApplication.objects.filter(pk=application_id)
        .filter(Q(status=Status.SUBMITTED) | Q(status=Status.SCORING, scoring_claim=task_id))
        .update(
            status=Status.SCORING,
            scoring_claim=task_id,
            scoring_claimed_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if claimed != 1:
        status = LoanApplication.objects.filter(pk=application_id).values_list("status", flat=True)
        if not status:
            raise LoanApplication.DoesNotExist(f"application {application_id} does not exist")
        logger.info(
            "application %s is %s under another claim; task %s stops",
            application_id,
            status[0],
            task_id,
        )
        return None
    return LoanApplication.objects.select_related("applicant").get(pk=application_id)


# --- the sweeper -------------------------------------------------------------------------------


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
                _record_requeued(
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
            application_scoring_enqueue(application_id=application_id)
        except ScoringQueueUnavailable:
            report.broker_unavailable = True
            return report
        LoanApplication.objects.filter(pk=application_id, status=Status.SUBMITTED).update(
            updated_at=timezone.now()
        )
        report.requeued.append(application_id)
    for batch_id in _idle_batches(now - older_than):
        try:
            batch_scoring_enqueue(batch_id=batch_id)
        except ScoringQueueUnavailable:
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


def _record_requeued(application_id: int, *, claim: str, reason: str) -> None:
    trail.record(
        action=AuditAction.APPLICATION_REQUEUED,
        target_type=LoanApplication._meta.label_lower,
        target_id=application_id,
        payload={
            "reason": reason,
            "released_claim": claim,
            "before": {"status": Status.SCORING},
            "after": {"status": Status.SUBMITTED},
        },
    )


# --- the decision policy -----------------------------------------------------------------------


def current_policy() -> DecisionPolicy:
    """The policy in force: the newest version (version 1 is created by a migration)."""
    policy = DecisionPolicy.objects.order_by("-version").first()
    if policy is None:
        raise DecisionPolicy.DoesNotExist("no decision policy: run the migrations")
    return policy


def policy_create(
    *,
    actor: AbstractBaseUser,
    very_low_below: float,
    low_below: float,
    medium_below: float,
    high_below: float,
    approve_below: float,
    reject_at_or_above: float,
    note: str = "",
) -> DecisionPolicy:
    """A new policy version, in force from now on, with its audit event (before and after).

    Only model admins may change the policy; decisions already made keep the version that
    made them. Raises `PermissionDenied` or `PolicyInvalid` (field -> message).
    """
    if not actor.has_perm(Perm.CHANGE_POLICY):
        raise PermissionDenied("only model admins may change the decision policy")
    values = {
        "very_low_below": very_low_below,
        "low_below": low_below,
        "medium_below": medium_below,
        "high_below": high_below,
        "approve_below": approve_below,
        "reject_at_or_above": reject_at_or_above,
    }
    errors = threshold_errors(values)
    if len(note or "") > 300:
        errors["note"] = "at most 300 characters"
    if errors:
        raise PolicyInvalid(errors)
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            return _policy_save(actor=actor, values=values, note=note or "")
        except IntegrityError:
            # Two admins saved at once and took the same version number: take the next one.
            if attempt == attempts:
                raise
    raise IntegrityError("could not allocate a policy version")


@transaction.atomic
def _policy_save(*, actor: AbstractBaseUser, values: dict[str, float], note: str) -> DecisionPolicy:
    previous = DecisionPolicy.objects.order_by("-version").first()
    policy = DecisionPolicy.objects.create(
        version=(previous.version + 1) if previous else 1, note=note, created_by=actor, **values
    )
    trail.record(
        action=AuditAction.POLICY_CREATED,
        actor=actor,
        target=policy,
        payload={
            "version": policy.version,
            "note": policy.note,
            "before": _thresholds(previous) if previous else None,
            "after": _thresholds(policy),
        },
    )
    return policy


def _thresholds(policy: DecisionPolicy) -> dict[str, Any]:
    return {"version": policy.version, **{name: getattr(policy, name) for name in THRESHOLD_FIELDS}}
