"""Accepting a counteroffer: a new application with the offered terms, linked to the first.

The new application is the applicant's own row with only the offered amounts changed (the
same inputs, history and known applicant id), submitted through the normal path
(`application_submit_and_score`) and decided there like any other. Accepting twice returns
the first acceptance: the submission's idempotency key is derived from the original
application, and `LoanApplication.counteroffer_of` is one-to-one, so even two clicks racing
create one application. The link is audited in the new application's transaction: its
SUBMITTED event names the original, and a COUNTEROFFER_ACCEPTED event is written on the
original.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist

from applicants.models import LoanApplication
from applicants.services.submit import IdempotencyConflict, application_submit_and_score
from credscope_site.roles import Perm
from scoring import registry
from scoring.counteroffers import decision_counteroffer
from scoring.ml.serving.counteroffer import offered_row
from scoring.policy import current_policy


class CounterofferRefused(Exception):
    """The counteroffer cannot be accepted; the message says why. `status` is the HTTP
    answer (403: not this person's to accept; 409: no offer stands)."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def counteroffer_idempotency_key(application: LoanApplication) -> str:
    return f"counteroffer-of-{application.pk}"


def counteroffer_accept(
    *, application: LoanApplication, actor: AbstractBaseUser, channel: str
) -> tuple[LoanApplication, bool]:
    """Accept `application`'s counteroffer for `actor`; return the linked application and
    whether it is new (False: it was accepted before, this is that application).

    Only the officer who submitted the application may accept. Raises `CounterofferRefused`
    when there is no offer, a reviewer has decided, or the model or policy that made the
    offer is no longer in force (the offer might not be approved any more); the scoring
    and validation errors of `application_submit` otherwise.
    """
    if not actor.has_perm(Perm.SUBMIT_APPLICATION) or application.created_by_id != actor.pk:
        raise CounterofferRefused(
            "Only the officer who submitted this application may accept its counteroffer.",
            status=403,
        )
    accepted = LoanApplication.objects.filter(counteroffer_of=application).first()
    if accepted is not None:
        return accepted, False
    offer = _standing_offer(application)
    try:
        return application_submit_and_score(
            actor=actor,
            channel=channel,
            application_row=offered_row(application.application_row, offer),
            history=application.history or None,
            full_name=application.applicant.full_name,
            external_id=application.applicant.external_id,
            idempotency_key=counteroffer_idempotency_key(application),
            counteroffer_of=application,
        )
    except IdempotencyConflict:
        raise CounterofferRefused(
            f"The key {counteroffer_idempotency_key(application)!r} was already used for "
            "another application; nothing was created."
        ) from None


def counteroffer_settle(*, application: LoanApplication) -> None:
    """Search and store the counteroffer of a decided application that has none yet (a
    batch row's, on its first read); nothing for the others."""
    try:
        decision = application.decision
    except ObjectDoesNotExist:
        return
    decision_counteroffer(decision)


def _standing_offer(application: LoanApplication) -> dict[str, Any]:
    """The offer that may be accepted now, or `CounterofferRefused` saying why none may."""
    try:
        decision = application.decision
    except ObjectDoesNotExist:
        raise CounterofferRefused("This application has no decision yet.") from None
    if hasattr(decision, "override"):
        raise CounterofferRefused(
            "A reviewer has decided this application; its counteroffer no longer stands."
        )
    document = decision_counteroffer(decision)
    offer = document.get("offer")
    if offer is None:
        raise CounterofferRefused(f"There is no counteroffer to accept: {document['reason']}.")
    active, _ = registry.active_versions()
    policy = current_policy()
    if active is None or (active.version, policy.version) != (
        document["model_version"],
        document["policy_version"],
    ):
        raise CounterofferRefused(
            f"The counteroffer was made by model {document['model_version']} under policy "
            f"v{document['policy_version']}; the model or policy in force has changed since, "
            "so it may no longer be approved. Submit a new application instead."
        )
    return offer
