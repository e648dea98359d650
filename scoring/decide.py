"""The one path from applications to decisions, for one application or a batch chunk.

Deciding is safe to run twice, from any number of workers:

1. **Claim.** A conditional update moves an application SUBMITTED -> SCORING and writes the
   task's id into `scoring_claim`. Only rows this task changed are its own. The same task,
   redelivered or retried (Celery keeps the task id), may carry on with its own claims.
2. **Score** outside any transaction (the model is slow compared with a row lock): all the
   claimed rows in one feature build and one SHAP pass.
3. **Decide** in one transaction: the rows still SCORING under our claim are locked and moved
   to DECIDED, their `Decision` rows created and their audit events appended. The one-to-one
   `Decision.application` is the final guard: a second decision cannot exist.

A worker killed mid-scoring leaves SCORING claims behind; `scoring.sweeper` frees them.
A batch is split into chunks of rows by `scoring.chunks`; each chunk comes through here.
A client waiting on its request is scored before its application is saved, and the
application is saved DECIDED with its decision in one transaction (`score_for_request`,
`application_decide_scored`): nothing else can see it before that commits, so no claim.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from applicants.models import LoanApplication
from audits import trail
from audits.actions import AuditAction
from credscope_site.bulk import bulk_insert
from scoring import challenger, registry
from scoring.counteroffers import counteroffer_search
from scoring.models import Decision, DecisionPolicy
from scoring.policy import current_policy, outcome_for, policy_apply
from scoring.reasons import reasons_for_explained

logger = logging.getLogger(__name__)

Status = LoanApplication.Status
MAX_FAILURE_REASON = 2000
#: Contributions a decision keeps as items: the details view shows the 25 largest.
STORED_CONTRIBUTIONS = 25
#: Errors worth a retry: a database or broker that hiccups. Anything else fails the row.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


# --- one application -------------------------------------------------------------------------


def application_decide(
    *,
    application_id: int,
    task_id: str,
    on_claimed: Callable[[int], None] | None = None,
) -> Decision | None:
    """Claim, score and decide one application; None when another task holds or finished it.

    Raises `LoanApplication.DoesNotExist` when the application is gone, and the scorer's own
    error for this row (the task decides which errors are worth a retry). `on_claimed` runs
    right after the claim (the worker-resilience tests hold a task there).
    """
    if not _claim_one(application_id, task_id):
        return None
    if on_claimed is not None:
        on_claimed(application_id)
    application = LoanApplication.objects.select_related("applicant").get(pk=application_id)
    (result,) = _score([application])
    if isinstance(result, Exception):
        raise result
    policy = current_policy()
    counteroffer = counteroffer_for(
        application_row=application.application_row,
        history=application.history or None,
        external_id=application.applicant.external_id,
        score=result,
        policy=policy,
    )
    decisions = _decide_scored(
        [(application, result)],
        task_id,
        policy=policy,
        counteroffers={application.pk: counteroffer},
    )
    return decisions[0] if decisions else None


def score_for_request(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    versions: tuple[Any, str | None] | None = None,
) -> registry.Score | None:
    """Score an application a client waits on, before it is saved; None when scoring fails
    here (it is then saved and queued, where retries and FAILED are handled). Raises
    `registry.NoActiveModel`: with no model, nothing is saved."""
    try:
        return registry.score_record(
            application_row=application_row,
            history=history or None,
            external_id=external_id,
            versions=versions,
        )
    except registry.NoActiveModel:
        raise
    except Exception:
        logger.exception("scoring an application within the request failed; queueing it")
        return None


def counteroffer_for(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    score: registry.Score,
    policy: DecisionPolicy,
) -> dict[str, Any] | None:
    """The counteroffer document of a score under `policy` (`scoring.counteroffers`), or
    None when the search fails: the decision is made all the same, and the search is tried
    again when the application is read."""
    try:
        return counteroffer_search(
            application_row=application_row,
            history=history,
            external_id=external_id,
            model_version=score.model_version,
            policy=policy,
            outcome=outcome_for(score.probability_of_default, policy),
            history_features=score.history_features,
        )
    except (*TRANSIENT_ERRORS, registry.NoActiveModel):
        raise
    except Exception:
        logger.exception("the counteroffer search failed; it is tried again when read")
        return None


def counteroffer_for_request(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    score: registry.Score,
) -> tuple[DecisionPolicy, dict[str, Any] | None]:
    """The policy in force and the counteroffer of an application a client waits on,
    searched before its transaction opens (for `application_decide_scored`)."""
    policy = current_policy()
    return policy, counteroffer_for(
        application_row=application_row,
        history=history,
        external_id=external_id,
        score=score,
        policy=policy,
    )


def application_decide_scored(
    *,
    application: LoanApplication,
    score: registry.Score,
    policy: DecisionPolicy | None = None,
    counteroffer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save the decision of an application scored before it was saved, in the caller's
    transaction (the one that saved it DECIDED); return its audit event for the caller to
    record with the SUBMITTED one. No claim: no task can see the application before the
    commit, and the one-to-one `Decision.application` still forbids a second decision.
    `policy` and `counteroffer` come from `counteroffer_for`, searched before the
    transaction."""
    decision = decision_build(
        application=application,
        score=score,
        policy=policy or current_policy(),
        counteroffer=counteroffer,
    )
    decision.save()
    challenger.challenger_scoring_schedule(
        decision_ids=[decision.pk], version=score.challenger_version
    )
    payload = decided_payload(decision, f"request-{uuid.uuid4().hex}")
    payload["before"] = {"status": Status.SUBMITTED}
    return {"action": AuditAction.APPLICATION_DECIDED, "target": application, "payload": payload}


def _claim_one(application_id: int, task_id: str) -> bool:
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
    if claimed == 1:
        return True
    status = LoanApplication.objects.filter(pk=application_id).values_list("status", flat=True)
    if not status:
        raise LoanApplication.DoesNotExist(f"application {application_id} does not exist")
    logger.info("application %s is %s under another claim; task %s stops",
                application_id, status[0], task_id)  # fmt: skip
    return False


# --- scoring and deciding, shared by both ----------------------------------------------------


def claimed_decide(*, applications: Sequence[LoanApplication], task_id: str) -> list[Decision]:
    """Score and decide applications this task has claimed (a batch chunk) in one feature
    build and one SHAP pass; a row whose own scoring fails is FAILED with the reason, the
    others are decided. Transient errors propagate (the task retries with its claims)."""
    results = _score(applications) if applications else []
    decisions = _decide_scored(
        [
            (a, r)
            for a, r in zip(applications, results, strict=True)
            if isinstance(r, registry.Score)
        ],
        task_id,
    )
    for application, result in zip(applications, results, strict=True):
        if isinstance(result, Exception):
            application_mark_failed(
                application_id=application.pk,
                task_id=task_id,
                reason=f"{result.__class__.__name__}: {result}",
            )
    return decisions


def _score(applications: Sequence[LoanApplication]) -> list[registry.Score | Exception]:
    """A score, or the row's own non-transient error, for each application.

    The rows are scored at once; rows that fail as a whole are scored again one by one so
    that one bad row cannot sink the rest. Transient errors propagate (the task retries).
    """
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
    except Exception as error:
        if len(applications) == 1:
            return [error]
        logger.exception("scoring %d rows at once failed; scoring them one by one",
                         len(applications))  # fmt: skip
    results: list[registry.Score | Exception] = []
    for application in applications:
        results.extend(_score([application]))
    return results


def _decide_scored(
    scored: list[tuple[LoanApplication, registry.Score]],
    task_id: str,
    *,
    policy: DecisionPolicy | None = None,
    counteroffers: dict[int, dict[str, Any] | None] | None = None,
) -> list[Decision]:
    """Save the decisions of claimed, scored rows: DECIDED + Decision + audit event, in one
    transaction. Rows whose claim is no longer ours are left alone; if a decision already
    exists for one of them, each row is settled on its own. `counteroffers` (application id
    -> document) were searched for single applications; batch rows have none yet."""
    if not scored:
        return []
    policy = policy or current_policy()
    counteroffers = counteroffers or {}
    try:
        return _save_decisions(scored, policy, task_id, counteroffers)
    except IntegrityError:
        if len(scored) == 1:
            logger.info("application %s already has a decision; not deciding twice",
                        scored[0][0].pk)  # fmt: skip
            return []
    decisions: list[Decision] = []
    for one in scored:
        decisions += _decide_scored([one], task_id, policy=policy, counteroffers=counteroffers)
    return decisions


def _save_decisions(
    scored: list[tuple[LoanApplication, registry.Score]],
    policy: DecisionPolicy,
    task_id: str,
    counteroffers: dict[int, dict[str, Any] | None],
) -> list[Decision]:
    now = timezone.now()
    with transaction.atomic():
        held = set(
            LoanApplication.objects.select_for_update()
            .filter(pk__in=[a.pk for a, _ in scored], status=Status.SCORING, scoring_claim=task_id)
            .values_list("pk", flat=True)
        )
        lost = [a.pk for a, _ in scored if a.pk not in held]
        if lost:
            logger.info("applications %s: claim %s lost before deciding", lost, task_id)
        LoanApplication.objects.filter(pk__in=held).update(
            status=Status.DECIDED, failure_reason="", updated_at=now
        )
        decisions = bulk_insert(
            Decision,
            [
                decision_build(
                    application=application,
                    score=score,
                    policy=policy,
                    counteroffer=counteroffers.get(application.pk),
                )
                for application, score in scored
                if application.pk in held
            ],
        )
        trail.record_many(
            [
                {
                    "action": AuditAction.APPLICATION_DECIDED,
                    "target": decision.application,
                    "payload": decided_payload(decision, task_id),
                }
                for decision in decisions
            ]
        )
        challenger.challenger_scoring_schedule(
            decision_ids=[d.pk for d in decisions], version=scored[0][1].challenger_version
        )
    for decision in decisions:
        decision.application.status = Status.DECIDED
    return decisions


def decision_build(
    *,
    application: LoanApplication,
    score: registry.Score,
    policy: DecisionPolicy,
    counteroffer: dict[str, Any] | None = None,
) -> Decision:
    """The (unsaved) decision a score makes under `policy`: band, outcome, true reasons
    (`scoring.reasons`), the contributions worth storing, what the age rule took off, and
    the counteroffer when one was searched."""
    result = policy_apply(score.probability_of_default, policy)
    return Decision(
        application=application,
        probability_of_default=score.probability_of_default,
        logit=score.logit,
        risk_band=result.risk_band,
        outcome=result.outcome,
        model_version=score.model_version,
        policy=policy,
        reasons=reasons_for_explained(
            score.explained, history_rows=score.history_rows, measures=score.measures
        ),
        base_value=score.base_value,
        contributions=stored_contributions(score.explained.largest(STORED_CONTRIBUTIONS)),
        family_totals=score.explained.family_totals(),
        feature_row=score.explained.feature_row.tobytes(),
        age_neutralised=score.age_neutralised,
        history_rows=score.history_rows,
        scoring_latency_ms=score.latency_ms,
        counteroffer=counteroffer,
    )


def stored_contributions(contributions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The largest contributions as a decision stores them, numbers rounded for storage:
    contributions to 1e-12 and values to 7 significant digits, the precision the model
    reads them at (float32). The rest of the explanation is kept as the family totals and
    the model row, from which `registry.decision_contributions` recomputes every item."""
    return [
        {
            **item,
            "value": _stored_value(item["value"]),
            "contribution": round(item["contribution"], 12),
        }
        for item in contributions
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
        "age_neutralised": decision.age_neutralised,
        "counteroffer": (decision.counteroffer or {}).get("offer"),
    }


# --- failures and releases ------------------------------------------------------------------


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
            record_requeued(application_id, claim=task_id, reason="released by its scorer")
    return bool(released)


def record_requeued(application_id: int, *, claim: str, reason: str) -> None:
    """The audit event of a claim given back (SCORING -> SUBMITTED)."""
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
