"""Reads for the model admin's oversight pages: challenger comparison, policy what-if, drift.

Each reads live decisions (and challenger scores) from the database and hands plain arrays
to the Django-free math in `scoring.ml.monitoring`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import F
from django.utils import timezone

from applicants.presentation import feature_label
from scoring import fairness, registry, selectors
from scoring.ml.features.application import YEAR_DAYS
from scoring.ml.monitoring import (
    drift_report,
    expected_default_rate,
    expected_roc_auc,
    realized_performance,
)
from scoring.models import ChallengerScore, Decision, ModelVersion, Outcome
from scoring.policy import Thresholds, outcome_for

OUTCOMES = (Outcome.APPROVE, Outcome.REFER, Outcome.REJECT)
#: PD shift (challenger - champion) histogram: percentage-point buckets from -10 to +10.
SHIFT_EDGES = [round(x, 3) for x in np.linspace(-0.10, 0.10, 21)]
#: How many decisions the what-if preview replays by default.
PREVIEW_DEFAULT = 10_000
#: The drift check reads the decisions of the last week, at most this many of the newest.
DRIFT_DAYS = 7
DRIFT_WINDOW = 5_000


def outcome_fairness(rows: list[dict[str, Any]], outcomes: list[str]) -> dict[str, Any] | None:
    """The fair-lending audit (`scoring.fairness`) of `outcomes` made on these decisions'
    applicants, with their recorded repayment where there is one. None without rows."""
    if not rows:
        return None
    frame = fairness.decision_frame(
        pds=np.array([r["pd"] for r in rows], dtype=np.float64),
        outcomes=np.asarray(outcomes, dtype=object),
        code_gender=[r["gender"] for r in rows],
        age_years=[_age_years(r["days_birth"]) for r in rows],
        family_status=[r["family_status"] for r in rows],
        loan_outcomes=[r["loan_outcome"] for r in rows],
    )
    return fairness.audit(frame)


def _age_years(days_birth: int | None) -> float | None:
    return None if days_birth is None else -days_birth / YEAR_DAYS


# --- champion and challenger -----------------------------------------------------------------


def challenger_comparison(
    *, model_version: ModelVersion, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """The challenger against the champion on the decisions it shadow-scored in the period."""
    scores = ChallengerScore.objects.filter(model_version=model_version)
    if since is not None:
        scores = scores.filter(decision__decided_at__gte=since)
    if until is not None:
        scores = scores.filter(decision__decided_at__lt=until)
    rows = list(
        scores.values(
            "probability_of_default",
            "outcome",
            champion_pd=F("decision__probability_of_default"),
            champion_outcome=F("decision__outcome"),
            champion_final=F("decision__override__outcome"),
            champion_version=F("decision__model_version__version"),
            **selectors.applicant_audit_fields("decision__"),
        )
    )
    n = len(rows)
    matrix = {c: {h: 0 for h in OUTCOMES} for c in OUTCOMES}
    for row in rows:
        matrix[row["champion_outcome"]][row["outcome"]] += 1
    agree = sum(matrix[o][o] for o in OUTCOMES)
    shift = np.array([r["probability_of_default"] - r["champion_pd"] for r in rows])
    counts = np.histogram(np.clip(shift, -0.0999, 0.0999), bins=SHIFT_EDGES)[0] if n else []
    champion_approved = sum(matrix[Outcome.APPROVE].values())
    challenger_approved = sum(matrix[c][Outcome.APPROVE] for c in OUTCOMES)
    return {
        "version": model_version.version,
        "decisions": n,
        "champions": sorted({r["champion_version"] for r in rows}),
        "agreement": agree / n if n else None,
        "matrix": [{"champion": c, "cells": [matrix[c][h] for h in OUTCOMES]} for c in OUTCOMES],
        "outcomes": list(OUTCOMES),
        "pd_shift": {
            "edges": SHIFT_EDGES,
            "counts": [int(c) for c in counts],
            "mean": float(shift.mean()) if n else None,
            "median": float(np.median(shift)) if n else None,
        },
        "approval_rate": {
            "champion": champion_approved / n if n else None,
            "challenger": challenger_approved / n if n else None,
            "change": (challenger_approved - champion_approved) / n if n else None,
        },
        # The policy's outcomes of both models (no overrides): like against like.
        "fairness": {
            "champion": outcome_fairness(
                [{**r, "pd": r["champion_pd"]} for r in rows],
                [r["champion_outcome"] for r in rows],
            ),
            "challenger": outcome_fairness(
                [{**r, "pd": r["probability_of_default"]} for r in rows],
                [r["outcome"] for r in rows],
            ),
        },
        "expected": {
            "champion_default_rate": expected_default_rate([r["champion_pd"] for r in rows]),
            "challenger_default_rate": expected_default_rate(
                [r["probability_of_default"] for r in rows]
            ),
        },
        "realized": _realized_side_by_side(rows),
    }


def _realized_side_by_side(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Both models' realized performance on the compared decisions whose loan outcome is
    recorded: the same loans, so the AUCs compare ranking power directly. The champion's
    approved are those finally approved (overrides count: those loans were made); the
    challenger's are those it would have approved, among loans that exist to observe."""
    known = [r for r in rows if r["loan_outcome"]]
    defaulted = np.array([r["loan_outcome"] == "defaulted" for r in known], dtype=bool)
    return {
        "rows": len(known),
        "champion": realized_performance(
            defaulted=defaulted,
            pds=np.array([r["champion_pd"] for r in known], dtype=np.float64),
            approved=np.array(
                [(r["champion_final"] or r["champion_outcome"]) == Outcome.APPROVE for r in known],
                dtype=bool,
            ),
        ),
        "challenger": realized_performance(
            defaulted=defaulted,
            pds=np.array([r["probability_of_default"] for r in known], dtype=np.float64),
            approved=np.array([r["outcome"] == Outcome.APPROVE for r in known], dtype=bool),
        ),
    }


# --- policy what-if ---------------------------------------------------------------------------


def policy_preview(*, thresholds: Thresholds, last: int = PREVIEW_DEFAULT) -> dict[str, Any]:
    """What `thresholds` would have decided on the last `last` decisions (their stored,
    calibrated PDs): outcome rates, the expected default rate among the approved (the mean
    PD of those approved) and four-fifths verdicts, beside what was actually decided."""
    rows = list(
        Decision.objects.order_by("-decided_at", "-pk").values(
            "outcome", pd=F("probability_of_default"), **selectors.applicant_audit_fields()
        )[:last]
    )
    pds = np.array([r["pd"] for r in rows], dtype=np.float64)
    would = [outcome_for(float(p), thresholds) for p in pds]

    def rates(outcomes: list[str]) -> dict[str, float | None]:
        counted = Counter(outcomes)
        return {o.lower(): (counted[o] / len(outcomes) if outcomes else None) for o in OUTCOMES}

    approved = np.array([o == Outcome.APPROVE for o in would], dtype=bool)
    actual_approved = np.array([r["outcome"] == Outcome.APPROVE for r in rows], dtype=bool)
    return {
        "decisions": len(rows),
        "rates": rates(would),
        "current_rates": rates([r["outcome"] for r in rows]),
        "expected_default_rate_approved": expected_default_rate(pds[approved]),
        "current_expected_default_rate_approved": expected_default_rate(pds[actual_approved]),
        "fairness": outcome_fairness(rows, would),
        "current_fairness": outcome_fairness(rows, [r["outcome"] for r in rows]),
    }


# --- drift and expected performance ---------------------------------------------------------


def drift_status(
    *, model_version: ModelVersion | None, window: int = DRIFT_WINDOW
) -> dict[str, Any] | None:
    """PSI of the score and the reference features over the version's decisions of the
    last week (at most the newest `window`), with expected default rate and AUC from their
    calibrated PDs. None without a version; `reference` False for a bundle that recorded no
    reference distributions."""
    if model_version is None:
        return None
    reference = (model_version.metrics or {}).get("reference")
    decisions = list(
        Decision.objects.filter(
            model_version=model_version,
            decided_at__gte=timezone.now() - timedelta(days=DRIFT_DAYS),
        )
        .select_related("application__applicant")
        .only(
            "probability_of_default",
            "application__application_row",
            "application__history",
            "application__applicant__external_id",
        )
        .order_by("-decided_at", "-pk")[:window]
    )
    pds = [d.probability_of_default for d in decisions]
    features: dict[str, list[float | None]] = {}
    if reference and decisions:
        # The feature values are rebuilt from the applications by the code that scored
        # them: the stored explanations keep only features on a row's tree paths.
        applications = [d.application for d in decisions]
        features = registry.feature_values(
            model_version=model_version,
            application_rows=[a.application_row for a in applications],
            histories=[a.history or None for a in applications],
            external_ids=[a.applicant.external_id for a in applications],
            names=list(reference["features"]),
        )
    report = drift_report(reference, probabilities=pds, features=features)
    for row in report["features"]:
        row["label"] = feature_label(row["feature"])
    report["version"] = model_version.version
    report["expected_default_rate"] = expected_default_rate(pds)
    report["expected_auc"] = expected_roc_auc(pds)
    report["reference_default_rate"] = (reference or {}).get("expected_default_rate")
    report["trained_auc"] = model_version.auc
    report["realized"] = realized_performance(
        **selectors.recorded_outcomes_for(model_version=model_version)
    )
    return report
