"""The four-eyes rule for overrides, as pure checks (no writes): who may override what.

- The reviewer holds the review permission (credit reviewers, senior credit reviewers).
- The decision is open to review: decided, not overridden yet, and REFER (the review queue)
  or REJECT (which only a senior reviewer may turn into APPROVE).
- The reviewer is neither the officer who submitted the application nor the person who last
  changed it (the newest event a person recorded on it).
- An override of a decision whose probability of default is at or above
  CREDSCOPE_SENIOR_OVERRIDE_PD, or one turning a model REJECT into APPROVE, needs the senior
  permission too.

`applicants.services.review` enforces these when recording; the pages use them to say, before
anyone types a justification, why the form is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from applicants.models import LoanApplication
from audits.actions import AuditAction
from audits.selectors import events_for_target
from credscope_site.roles import Perm
from scoring.models import Decision, DecisionOverride, Outcome

REVIEWABLE = (Outcome.REFER, Outcome.REJECT)
#: Events on an application that are about its review, not changes to it.
_REVIEW_ACTIONS = (AuditAction.DECISION_OVERRIDDEN, AuditAction.DECISION_OVERRIDE_REFUSED)


@dataclass(frozen=True)
class Refusal:
    """Why an override is refused: a stable code, the HTTP status a client gets, the words a
    person reads."""

    code: str
    status: int
    message: str


def people_behind(application: LoanApplication) -> set[int]:
    """Ids of the officer who submitted the application and of whoever last changed it."""
    people = {application.created_by_id}
    last_change = (
        events_for_target(target_type=application._meta.label_lower, target_id=application.pk)
        .filter(actor__isnull=False)
        .exclude(action__in=_REVIEW_ACTIONS)
        .order_by("-sequence")
        .values_list("actor_id", flat=True)
        .first()
    )
    if last_change is not None:
        people.add(last_change)
    return people


def senior_reason(decision: Decision, outcome: str | None) -> str:
    """Why this override needs a senior reviewer ('' when it does not). With no outcome
    chosen yet (the page), the reason that holds whatever the reviewer chooses."""
    threshold = settings.CREDSCOPE_SENIOR_OVERRIDE_PD
    if decision.probability_of_default >= threshold:
        return (
            f"its probability of default ({decision.probability_of_default:.1%}) is at or above "
            f"{threshold:.1%}"
        )
    if decision.outcome == Outcome.REJECT and outcome in (Outcome.APPROVE, None):
        return "it turns the model's rejection into an approval"
    return ""


def override_refusal(
    *, decision: Decision, reviewer: AbstractBaseUser, outcome: str | None = None
) -> Refusal | None:
    """The first rule `reviewer` overriding `decision` (to `outcome`, if chosen) breaks."""
    application = decision.application
    if not reviewer.has_perm(Perm.OVERRIDE_DECISION):
        return Refusal("not_reviewer", 403, "Your role may not review decisions.")
    existing = DecisionOverride.objects.filter(decision=decision).select_related("reviewer").first()
    if existing is not None:
        return Refusal(
            "not_awaiting_review",
            409,
            f"Application #{application.pk} is not awaiting review: "
            f"{existing.reviewer.get_username()} already decided it.",
        )
    accepted = LoanApplication.objects.filter(counteroffer_of=application).first()
    if accepted is not None:
        return Refusal(
            "not_awaiting_review",
            409,
            f"Application #{application.pk} is not awaiting review: its counteroffer was "
            f"accepted as application #{accepted.pk}, which stands in its place.",
        )
    if decision.outcome not in REVIEWABLE:
        return Refusal(
            "not_awaiting_review",
            409,
            f"Application #{application.pk} is not awaiting review: the policy "
            f"{decision.get_outcome_display().lower()}d it.",
        )
    if decision.outcome == Outcome.REJECT and outcome == Outcome.REJECT:
        return Refusal(
            "not_awaiting_review",
            409,
            f"Application #{application.pk} is already rejected by the model; only an "
            "approval would change it.",
        )
    if reviewer.pk in people_behind(application):
        return Refusal(
            "own_application",
            403,
            f"You submitted or last changed application #{application.pk}, so you cannot "
            "review it: a second person must decide (four eyes).",
        )
    reason = senior_reason(decision, outcome)
    if reason and not reviewer.has_perm(Perm.SENIOR_OVERRIDE):
        return Refusal(
            "senior_required",
            403,
            f"This override needs a senior credit reviewer: {reason}.",
        )
    return None
