"""Counteroffers: for a REFER or REJECT, the terms the policy would APPROVE.

The candidates and the choice are `scoring.ml.serving.counteroffer`'s; here they are checked
against the rules every door applies (`clean_application`, the model version's input
contract), scored by the model version that made the decision in one feature build and one
prediction, and judged by the decision's policy. A candidate's probability of default is
the very figure the normal path gives the same row (`Scorer.probabilities_many`), so an
accepted offer submitted again is approved by the same model and policy.

When it is computed. A decision made for one application (in the request, or by the worker
for one application) carries its counteroffer from the start: the search costs a few tens
of milliseconds and no query. Batch rows are decided in bulk, where the search would cost
throughput nobody asked for: their counteroffer is searched the first time the
application is read (page or API) and stored on the decision then.

Stored on `Decision.counteroffer`: {"offer": {...} or None, "reason": why there is none, or
what the offer is, "model_version", "policy_version", "candidates": how many were scored}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from scoring import registry
from scoring.ml.schema.contract import InputContract
from scoring.ml.schema.records import clean_application
from scoring.ml.serving import counteroffer as search
from scoring.models import Decision, DecisionPolicy, ModelVersion, Outcome
from scoring.policy import outcome_for

logger = logging.getLogger(__name__)

#: The reason shown for a batch row whose counteroffer nobody has asked for yet.
NOT_SEARCHED = (
    "not searched yet: batch decisions are searched for a counteroffer when the application "
    "is first read on its own (its page, or GET /api/v1/applications/{id}/)"
)
APPROVED = "none needed: the application was approved as submitted"


def counteroffer_search(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    model_version: ModelVersion,
    policy: DecisionPolicy,
    outcome: str,
    history_features: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The counteroffer document for a decision with `outcome` (see the module docstring).
    `history_features`: those of the applicant's score by `model_version`, when at hand."""
    document: dict[str, Any] = {
        "offer": None,
        "reason": "",
        "model_version": model_version.version,
        "policy_version": policy.version,
        "candidates": 0,
    }
    if outcome == Outcome.APPROVE:
        return {**document, "reason": APPROVED}
    if search.term_months(application_row) is None:
        document["reason"] = (
            "none: the application gives no annuity (AMT_ANNUITY), so it has no term to keep "
            "or lengthen"
        )
        return document
    longest = _longest_term(registry.scorer_reference(model_version))
    contract = registry.scorer_contract(model_version)
    candidates = [
        c
        for c in search.candidates(application_row, longest_term_months=longest)
        if _acceptable(c.row, contract)
    ]
    document["candidates"] = len(candidates)
    if not candidates:
        document["reason"] = (
            "none: no smaller amount or longer term stays within what the model accepts"
        )
        return document
    probabilities = registry.probabilities_for(
        model_version=model_version,
        application_rows=[c.row for c in candidates],
        history=history,
        external_id=external_id,
        history_features=history_features,
    )
    choice = search.choose(
        candidates, probabilities, lambda pd: outcome_for(pd, policy) == Outcome.APPROVE
    )
    best = choice.preferred
    if best is None:
        smallest = min(c.credit for c in candidates)
        document["reason"] = (
            f"none: policy v{policy.version} approves no smaller amount down to "
            f"{smallest:,.0f} at the requested term, nor the requested amount over any term "
            f"up to {longest:.0f} months"
        )
        return document
    document["offer"] = search.offer_document(*best)
    document["reason"] = (
        "the requested amount over a longer term"
        if best[0].kind == search.LONGER_TERM
        else "the largest amount approved at the requested term"
    )
    return document


def _longest_term(reference: dict[str, Any]) -> float:
    """The longest term the model was trained on: beyond it a score is extrapolation."""
    quantiles = (reference.get("features", {}).get("CREDIT_TERM") or {}).get("quantiles")
    if not quantiles:
        return float(search.DEFAULT_LONGEST_TERM_MONTHS)
    return float(quantiles[-1])


def _acceptable(row: dict[str, Any], contract: InputContract) -> bool:
    """Would the row be accepted as an application (every door's rules, the contract)?"""
    cleaned, errors = clean_application(row)
    return not errors and not contract.errors(cleaned)


def decision_counteroffer(decision: Decision) -> dict[str, Any]:
    """The decision's counteroffer document, searched and stored now if it never was (a
    batch row's); a search that fails is not stored, and says so."""
    if decision.counteroffer is not None:
        return decision.counteroffer
    application = decision.application
    try:
        document = counteroffer_search(
            application_row=application.application_row,
            history=application.history or None,
            external_id=application.applicant.external_id,
            model_version=decision.model_version,
            policy=decision.policy,
            outcome=decision.outcome,
        )
    except registry.RegistryError:
        logger.warning("decision %s: counteroffer search failed", decision.pk, exc_info=True)
        return {"offer": None, "reason": "none: the model that decided cannot be loaded"}
    with transaction.atomic():
        Decision.objects.filter(pk=decision.pk, counteroffer__isnull=True).update(
            counteroffer=document
        )
    decision.counteroffer = document
    return document
