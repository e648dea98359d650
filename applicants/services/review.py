"""Manual review: a person's final word on a decision the policy referred to them.

The override is a row of its own beside the model's `Decision`, which is never changed, so
both stay on record; the audit event is written in the same transaction.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring.models import Decision, DecisionOverride, Outcome

FINAL_OUTCOMES = (Outcome.APPROVE, Outcome.REJECT)
MIN_JUSTIFICATION_LENGTH = 10


class OverrideRefused(Exception):
    """The override cannot be recorded; the message says why, for the reviewer."""


def decision_override_record(
    *, decision: Decision, outcome: str, justification: str, reviewer: AbstractBaseUser
) -> DecisionOverride:
    """Record `reviewer`'s APPROVE or REJECT of a REFER decision, with their justification.

    Refuses (OverrideRefused) a reviewer without the permission, an outcome other than
    APPROVE or REJECT, a missing or too short justification, a decision that was not REFER
    and a decision already overridden (also when two reviewers race: the one-to-one key
    lets only the first in).
    """
    if not reviewer.has_perm(Perm.OVERRIDE_DECISION):
        raise OverrideRefused("Your role may not override decisions.")
    if outcome not in FINAL_OUTCOMES:
        raise OverrideRefused("Choose approve or reject.")
    justification = (justification or "").strip()
    if len(justification) < MIN_JUSTIFICATION_LENGTH:
        raise OverrideRefused(
            f"Write a justification of at least {MIN_JUSTIFICATION_LENGTH} characters: "
            "it goes on the record with your decision."
        )
    try:
        with transaction.atomic():
            current = (
                Decision.objects.select_for_update()
                .select_related("application")
                .get(pk=decision.pk)
            )
            if current.outcome != Outcome.REFER:
                raise OverrideRefused(
                    f"Only referred decisions can be overridden; this one is "
                    f"{current.get_outcome_display().lower()}."
                )
            if DecisionOverride.objects.filter(decision=current).exists():
                raise OverrideRefused("This decision has already been reviewed.")
            override = DecisionOverride.objects.create(
                decision=current, outcome=outcome, justification=justification, reviewer=reviewer
            )
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
                },
            )
    except IntegrityError:
        raise OverrideRefused("This decision has already been reviewed.") from None
    return override
