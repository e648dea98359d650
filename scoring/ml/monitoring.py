"""Watching a model on live traffic, without Django: drift and expected performance.

- **Reference distributions** are recorded at training time from the held-out rows: the
  calibrated PD cut into deciles, and each of the ``top`` most important features cut at
  its deciles, with a separate bucket for a missing value. They go into ``metrics.json``
  under ``"reference"``; a bundle written before this existed has none, and the monitor
  then says "no reference" instead of guessing.
- **PSI** (population stability index) of a live sample against a reference:
  ``sum((live - ref) * ln(live / ref))`` over the buckets. The usual reading, used here:
  below 0.1 stable, 0.1 to 0.25 watch, above 0.25 act.
- **Expected performance** without outcomes (confidence-based performance estimation, as
  NannyML does it): if the PDs are calibrated, row *i* defaults with probability ``p_i``, so
  the expected default rate is the mean PD and the expected ROC AUC is the chance that a
  random defaulter scores above a random non-defaulter, each row counted as a defaulter
  with weight ``p_i`` and as a non-defaulter with weight ``1 - p_i``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

#: PSI at or above which a distribution is worth watching, and acting on.
PSI_WATCH = 0.1
PSI_ACT = 0.25
#: How many of the most important features get a reference distribution.
REFERENCE_FEATURES = 30
#: Application columns watched whatever their importance: who applies (age, income, the
#: amounts asked for) matters to the lender and to fairness even where the model ignores it.
ALWAYS_WATCHED = ("DAYS_BIRTH", "AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY")
#: Buckets per continuous distribution (deciles).
BINS = 10
#: A bucket's share is floored at this before the logarithm: an empty bucket on one side
#: would otherwise make PSI infinite.
_FLOOR = 1e-4


# --- reference distributions ---------------------------------------------------------------


def cut_points(values: np.ndarray, bins: int = BINS) -> list[float]:
    """Inner cut points at the quantiles of the finite values, duplicates dropped (a feature
    that is mostly zero gets fewer buckets, not empty ones)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return []
    inner = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted({float(v) for v in inner})


def bucket_shares(values: Sequence[float] | np.ndarray, cuts: Sequence[float]) -> list[float]:
    """Shares of ``values`` per bucket: ``len(cuts) + 1`` value buckets (a value equal to a
    cut point goes to the bucket above it), then one bucket for missing values."""
    counts = bucket_counts(values, cuts)
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def bucket_counts(values: Sequence[float] | np.ndarray, cuts: Sequence[float]) -> list[int]:
    array = np.asarray(
        [np.nan if v is None else v for v in values] if isinstance(values, list) else values,
        dtype=np.float64,
    )
    finite = np.isfinite(array)
    index = np.searchsorted(np.asarray(cuts, dtype=np.float64), array[finite], side="right")
    counts = np.bincount(index, minlength=len(cuts) + 1).tolist()
    return [*counts, int((~finite).sum())]


def reference_distributions(
    *,
    X: np.ndarray,
    feature_names: Sequence[str],
    importance: Sequence[Mapping[str, Any]],
    probabilities: np.ndarray,
    top: int = REFERENCE_FEATURES,
    always: Sequence[str] = ALWAYS_WATCHED,
) -> dict[str, Any]:
    """The reference a live population is compared with (see the module docstring): the
    ``top`` most important features, then the ``always`` watched columns not among them.

    ``importance`` is the ensemble's table, largest first; ``X`` and ``probabilities`` are
    the same held-out rows.
    """
    index = {name: i for i, name in enumerate(feature_names)}
    chosen = [row["feature"] for row in importance if row["feature"] in index][:top]
    chosen += [name for name in always if name in index and name not in chosen]
    features: dict[str, Any] = {}
    for name in chosen:
        column = np.asarray(X[:, index[name]], dtype=np.float64)
        cuts = cut_points(column)
        features[name] = {"cuts": cuts, "shares": bucket_shares(column, cuts)}
    p = np.asarray(probabilities, dtype=np.float64)
    score_cuts = cut_points(p)
    return {
        "rows": int(p.size),
        "score": {"cuts": score_cuts, "shares": bucket_shares(p, score_cuts)},
        "features": features,
        "expected_default_rate": float(p.mean()) if p.size else None,
    }


# --- drift ---------------------------------------------------------------------------------


def psi(reference: Sequence[float], live: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same buckets."""
    if len(reference) != len(live):
        raise ValueError("reference and live shares must have the same buckets")
    ref = np.maximum(np.asarray(reference, dtype=np.float64), _FLOOR)
    cur = np.maximum(np.asarray(live, dtype=np.float64), _FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_level(value: float | None) -> str:
    """ "stable", "watch" or "act" (or "unknown" without a figure)."""
    if value is None or not math.isfinite(value):
        return "unknown"
    if value >= PSI_ACT:
        return "act"
    if value >= PSI_WATCH:
        return "watch"
    return "stable"


def drift_report(
    reference: Mapping[str, Any] | None,
    *,
    probabilities: Sequence[float],
    features: Mapping[str, Sequence[float | None]],
) -> dict[str, Any]:
    """PSI of the live score and of each reference feature, worst first.

    ``features`` maps a feature name to its live values (None for missing); a reference
    feature absent from it is reported with no figure. Without a reference (a bundle from
    before references were recorded) the report says so.
    """
    if not reference:
        return {"reference": False, "rows": len(probabilities), "score": None, "features": []}
    score_ref = reference["score"]
    score_psi = (
        psi(score_ref["shares"], bucket_shares(list(probabilities), score_ref["cuts"]))
        if len(probabilities)
        else None
    )
    rows = []
    for name, ref in reference["features"].items():
        values = features.get(name)
        value = psi(ref["shares"], bucket_shares(list(values), ref["cuts"])) if values else None
        rows.append({"feature": name, "psi": value, "level": psi_level(value)})
    rows.sort(key=lambda r: -1.0 if r["psi"] is None else r["psi"], reverse=True)
    worst = max((r["psi"] for r in rows if r["psi"] is not None), default=None)
    return {
        "reference": True,
        "rows": len(probabilities),
        "score": {"psi": score_psi, "level": psi_level(score_psi)},
        "features": rows,
        "worst_feature": rows[0] if rows and rows[0]["psi"] is not None else None,
        "worst_psi": max(v for v in (score_psi, worst, -1.0) if v is not None),
    }


# --- expected and realized performance -------------------------------------------------------


def expected_default_rate(probabilities: Sequence[float] | np.ndarray) -> float | None:
    p = np.asarray(probabilities, dtype=np.float64)
    return float(p.mean()) if p.size else None


def expected_roc_auc(
    probabilities: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray | None = None
) -> float | None:
    """The ROC AUC a model ranking by ``scores`` (default: the PDs) should reach, if the
    calibrated ``probabilities`` are the true chances of default (ties count half)."""
    p = np.asarray(probabilities, dtype=np.float64)
    s = p if scores is None else np.asarray(scores, dtype=np.float64)
    if p.size < 2:
        return None
    order = np.argsort(s, kind="stable")
    p, s = p[order], s[order]
    # Weighted Mann-Whitney: for each row as a "defaulter" (weight p), the non-default weight
    # (1 - p) of the rows ranked strictly below it, plus half of those tied with it.
    negative = 1.0 - p
    _, starts, counts = np.unique(s, return_index=True, return_counts=True)
    below = np.concatenate([[0.0], np.cumsum(negative)])
    group_neg = below[starts + counts] - below[starts]
    group_pos = np.add.reduceat(p, starts)
    group_pos_neg_self = np.add.reduceat(p * negative, starts)
    # Pairs of a row with itself are not pairs: remove each row's own p(1-p).
    numerator = float(np.sum(group_pos * below[starts]) + 0.5 * np.sum(group_pos * group_neg))
    numerator -= 0.5 * float(np.sum(group_pos_neg_self))
    denominator = float(p.sum() * negative.sum() - np.sum(p * negative))
    return numerator / denominator if denominator > 0 else None


def realized_metrics(
    outcomes: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> dict[str, Any]:
    """Observed default rate and ROC AUC where outcomes are recorded (AUC needs both)."""
    y = np.asarray(outcomes, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    out: dict[str, Any] = {"rows": int(y.size), "default_rate": None, "roc_auc": None}
    if y.size:
        out["default_rate"] = float(y.mean())
    if y.size and 0 < y.sum() < y.size:
        out["roc_auc"] = float(roc_auc_score(y, p))
    return out


def realized_performance(
    *, defaulted: np.ndarray, pds: np.ndarray, approved: np.ndarray
) -> dict[str, Any]:
    """What recorded outcomes say beside what the calibrated PDs expected, on the same rows:
    default rate and ROC AUC over every row with an outcome, and the default rate among the
    approved ones (the lender's loss driver). ``rows`` 0 means no outcome is recorded yet."""
    y = np.asarray(defaulted, dtype=bool)
    p = np.asarray(pds, dtype=np.float64)
    ok = np.asarray(approved, dtype=bool)
    realized = realized_metrics(y.astype(int), p)
    return {
        "rows": realized["rows"],
        "defaulted": int(y.sum()),
        "default_rate": realized["default_rate"],
        "expected_default_rate": expected_default_rate(p),
        "roc_auc": realized["roc_auc"],
        "expected_roc_auc": expected_roc_auc(p),
        "approved_rows": int(ok.sum()),
        "approved_default_rate": float(y[ok].mean()) if ok.any() else None,
        "approved_expected_default_rate": expected_default_rate(p[ok]),
    }
