"""Model quality, calibration and fairness figures, as plain JSON-ready dicts.

Every function takes arrays and returns numbers, lists and dicts of numbers, so the result
goes straight into a bundle's ``metrics.json`` and onto the ``ModelVersion`` row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_score, roc_auc_score, roc_curve

from scoring.ml.probability import EPSILON

#: PD at or above which an application counts as flagged (predicted default) when fairness
#: is measured. It matches the decision policy's default REJECT cut-off; a version's
#: metrics record the threshold they were computed at.
DEFAULT_THRESHOLD = 0.20
#: How many of the most important features each base model lists.
TOP_IMPORTANCE = 50


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties counted half), NaN if only one class is present."""
    y = np.asarray(y)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, score))


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the two classes' score CDFs."""
    y = np.asarray(y)
    if y.min() == y.max():
        return float("nan")
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted vs observed default rate by decile of the predicted probability."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    rows = []
    for i, part in enumerate(np.array_split(order, bins)):
        if part.size == 0:
            continue
        rows.append(
            {
                "decile": i + 1,
                "count": int(part.size),
                "p_min": float(p[part].min()),
                "p_max": float(p[part].max()),
                "predicted": float(p[part].mean()),
                "observed": float(y[part].mean()),
            }
        )
    return rows


def expected_calibration_error(table: Sequence[Mapping[str, float]]) -> float:
    total = sum(r["count"] for r in table)
    return float(sum(r["count"] * abs(r["predicted"] - r["observed"]) for r in table) / total)


def score_metrics(
    y: np.ndarray, p: np.ndarray, *, oracle: np.ndarray | None = None
) -> dict[str, Any]:
    """ROC AUC, Gini, KS, Brier, log loss and the calibration table of probabilities ``p``.

    With ``oracle`` (the generator's true probabilities of the same rows) the oracle's own
    AUC is put beside them: the best any model could reach on these rows.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1 - EPSILON)
    auc = roc_auc(y, p)
    table = calibration_table(y, p)
    out: dict[str, Any] = {
        "n": int(y.size),
        "positives": int(y.sum()),
        "roc_auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "mean_predicted": float(p.mean()),
        "observed_rate": float(y.mean()),
        "ece": expected_calibration_error(table),
        "calibration": table,
    }
    if oracle is not None:
        out["oracle_roc_auc"] = roc_auc(y, oracle)
        out["gap_to_oracle"] = out["oracle_roc_auc"] - auc
    return out


def importance_table(names: Sequence[str], gains: np.ndarray, top: int = TOP_IMPORTANCE) -> dict:
    """Gain importance normalised to sum 1, the ``top`` features, largest first."""
    gains = np.asarray(gains, dtype=np.float64)
    total = gains.sum()
    share = gains / total if total > 0 else gains
    order = np.argsort(-share, kind="stable")[:top]
    return {
        "type": "gain",
        "features_used": int((gains > 0).sum()),
        "top": [{"feature": names[i], "importance": float(share[i])} for i in order],
    }


# --- fairness ------------------------------------------------------------------------------


def fairness_report(
    y: np.ndarray,
    p: np.ndarray,
    protected: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    attributes: Sequence[str] = ("CODE_GENDER", "AGE_BAND"),
) -> dict[str, Any]:
    """Group metrics at ``threshold`` for each protected attribute (fairlearn MetricFrame).

    Predicted positive = flagged as a likely default (PD >= threshold). For each attribute:
    selection rate, TPR, FPR, precision and count per group, the overall values, the
    demographic-parity ratio (lowest / highest selection rate) and the equalized-odds
    difference (largest gap in TPR or FPR between groups).
    """
    from fairlearn.metrics import (  # heavy optional library: ~1 s to import
        MetricFrame,
        count,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    y = np.asarray(y).astype(int)
    flagged = (np.asarray(p) >= threshold).astype(int)

    def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(precision_score(y_true, y_pred, zero_division=0))

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": precision,
        "count": count,
    }
    out: dict[str, Any] = {"threshold": threshold, "n": int(y.size)}
    for attribute in attributes:
        groups = protected[attribute].astype(str).replace("", "unknown").to_numpy()
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=flagged, sensitive_features=groups)
        by_group = frame.by_group
        out[attribute] = {
            "groups": {
                str(g): {k: _number(by_group.loc[g, k]) for k in metrics} for g in by_group.index
            },
            "overall": {k: _number(v) for k, v in frame.overall.items()},
            "demographic_parity_ratio": _number(
                demographic_parity_ratio(y, flagged, sensitive_features=groups)
            ),
            "equalized_odds_difference": _number(
                equalized_odds_difference(y, flagged, sensitive_features=groups)
            ),
        }
    return out


def _number(value: Any) -> float | int | None:
    value = float(value)
    if np.isnan(value):
        return None
    return int(value) if value.is_integer() and abs(value) > 1 else value
