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
from scoring import registry
from scoring.ml.features.build import fairness_age_band
from scoring.ml.monitoring import (
    drift_report,
    expected_default_rate,
    expected_roc_auc,
    four_fifths,
)
from scoring.model_report import UNKNOWN_GROUPS, group_order
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


def _groups(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    gender = np.array([r["gender"] or "unknown" for r in rows], dtype=object)
    age = fairness_age_band(np.array([r["days_birth"] for r in rows], dtype=np.float64))
    age = np.where(age == "", "unknown", age)
    return {"Gender": gender, "Age group": age}


def outcome_fairness(rows: list[dict[str, Any]], outcomes: list[str]) -> list[dict[str, Any]]:
    """Four-fifths verdicts of approval rates by gender and by age group."""
    if not rows:
        return []
    approved = np.array([o == Outcome.APPROVE for o in outcomes])
    out = []
    for attribute, labels in _groups(rows).items():
        # An unrecorded attribute is no group: its rows are counted, never compared.
        known = [g for g in set(labels.tolist()) if g not in UNKNOWN_GROUPS]
        counts = {
            str(g): (int(approved[labels == g].sum()), int((labels == g).sum()))
            for g in sorted(known, key=group_order)
        }
        unknown = int(np.isin(labels, list(UNKNOWN_GROUPS)).sum())
        out.append({"attribute": attribute, "unknown_rows": unknown, **four_fifths(counts)})
    return out


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
            champion_version=F("decision__model_version__version"),
            gender=F("decision__application__applicant__code_gender"),
            days_birth=F("decision__application__applicant__days_birth"),
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
        "fairness": {
            "champion": outcome_fairness(rows, [r["champion_outcome"] for r in rows]),
            "challenger": outcome_fairness(rows, [r["outcome"] for r in rows]),
        },
        "expected": {
            "champion_default_rate": expected_default_rate([r["champion_pd"] for r in rows]),
            "challenger_default_rate": expected_default_rate(
                [r["probability_of_default"] for r in rows]
            ),
        },
        # No outcome store exists yet: realized figures appear once outcomes are recorded.
        "realized": None,
    }


# --- policy what-if ---------------------------------------------------------------------------


def policy_preview(*, thresholds: Thresholds, last: int = PREVIEW_DEFAULT) -> dict[str, Any]:
    """What `thresholds` would have decided on the last `last` decisions (their stored,
    calibrated PDs): outcome rates, the expected default rate among the approved (the mean
    PD of those approved) and four-fifths verdicts, beside what was actually decided."""
    rows = list(
        Decision.objects.order_by("-decided_at", "-pk").values(
            "probability_of_default",
            "outcome",
            gender=F("application__applicant__code_gender"),
            days_birth=F("application__applicant__days_birth"),
        )[:last]
    )
    pds = np.array([r["probability_of_default"] for r in rows], dtype=np.float64)
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
    return report
