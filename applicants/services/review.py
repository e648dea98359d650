"""Manual review under four eyes: a second person's final word on a decision open to review.

The override is a row of its own beside the model's `Decision`, which is never changed, so
both stay on record with both names (the submitting officer's and the reviewer's); the audit
event is written in the same transaction. The rules are in `applicants.four_eyes`; every
attempt they refuse is answered with the reason and recorded on the audit trail.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction

from applicants import four_eyes
from audits import trail
from audits.actions import AuditAction
from scoring.models import Decision, DecisionOverride, Outcome

FINAL_OUTCOMES = (Outcome.APPROVE, Outcome.REJECT)
MIN_JUSTIFICATION_LENGTH = 10


class OverrideRefused(Exception):
    """The override cannot be recorded; the message says why, for the reviewer.

    `status` is the HTTP answer for API clients (400 bad input, 403 refused reviewer, 409 not
    awaiting review) and `code` a stable name for the reason.
    """

    def __init__(self, message: str, *, code: str = "invalid", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.field = ""


class OverrideInvalid(OverrideRefused):
    """The request itself is incomplete: no outcome, or no justification (400)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def override_validated(*, outcome: str, justification: str) -> str:
    """The justification, stripped; OverrideInvalid naming the field otherwise."""
    if outcome not in FINAL_OUTCOMES:
        raise OverrideInvalid("Choose approve or reject.", field="outcome")
    justification = (justification or "").strip()
    if len(justification) < MIN_JUSTIFICATION_LENGTH:
        raise OverrideInvalid(
            f"Write a justification of at least {MIN_JUSTIFICATION_LENGTH} characters: "
            "it goes on the record with your decision.",
            field="justification",
        )
    return justification


def decision_override_record(
    *, decision: Decision, outcome: str, justification: str, reviewer: AbstractBaseUser
) -> DecisionOverride:
    """Record `reviewer`'s APPROVE or REJECT of a decision open to review.

    Raises OverrideInvalid (400) for a missing outcome or justification, and OverrideRefused
    (403 or 409, recorded on the audit trail) when the four-eyes rules refuse the reviewer or
    the decision is not awaiting review, also when two reviewers race: the one-to-one key
    lets only the first in.
    """
    justification = override_validated(outcome=outcome, justification=justification)
    try:
        with transaction.atomic():
            current = (
                Decision.objects.select_for_update()
                .select_related("application", "application__created_by")
                .get(pk=decision.pk)
            )
            refusal = four_eyes.override_refusal(
                decision=current, reviewer=reviewer, outcome=outcome
            )
            if refusal is not None:
                raise OverrideRefused(refusal.message, code=refusal.code, status=refusal.status)
            override = DecisionOverride.objects.create(
                decision=current, outcome=outcome, justification=justification, reviewer=reviewer
            )
            submitted_by = current.application.created_by.get_username()
            trail.record(
                action=AuditAction.DECISION_OVERRIDDEN,
                actor=reviewer,
                target=current.application,
                payload={
                    "decision_id": current.pk,
                    "override_id": override.pk,
                    "before": {"outcome": current.outcome},
                    "after": {"outcome": override.outcome},
                    "justification": justification,
                    "probability_of_default": current.probability_of_default,
                    "submitted_by": submitted_by,
                    "reviewer": reviewer.get_username(),
                },
            )
            return override
    except IntegrityError:
        refused = OverrideRefused(
            "This decision has already been reviewed.", code="not_awaiting_review", status=409
        )
    except OverrideRefused as error:
        refused = error
    _record_refusal(decision=decision, outcome=outcome, reviewer=reviewer, refused=refused)
    raise refused


@transaction.atomic
def _record_refusal(
    *, decision: Decision, outcome: str, reviewer: AbstractBaseUser, refused: OverrideRefused
) -> None:
    """The refused attempt goes on the trail in its own transaction: the override's rolled
    back, this one stays."""
    trail.record(
        action=AuditAction.DECISION_OVERRIDE_REFUSED,
        actor=reviewer,
        target_type=decision.application._meta.label_lower,
        target_id=decision.application_id,
        payload={
            "decision_id": decision.pk,
            "attempted": {"outcome": outcome},
            "model_outcome": decision.outcome,
            "probability_of_default": decision.probability_of_default,
            "reason": refused.code,
            "message": str(refused),
        },
    )


def override_for_application(
    *, application_id: int, outcome: str, justification: str, reviewer: AbstractBaseUser
) -> DecisionOverride:
    """The REST door's entry: an application id, which must have a decision (409 otherwise)."""
    decision = (
        Decision.objects.select_related("application").filter(application_id=application_id)
    ).first()
    if decision is None:
        raise OverrideRefused(
            f"Application #{application_id} is not awaiting review: it has no decision yet.",
            code="not_awaiting_review",
            status=409,
        )
    return decision_override_record(
        decision=decision, outcome=outcome, justification=justification, reviewer=reviewer
    )
