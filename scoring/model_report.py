"""What the model pages show: a version's recorded metrics turned into rows and chart data.

Everything comes from the version's `metrics.json` (copied to `ModelVersion.metrics`).
Figures a bundle did not record (a bundle from before the ROC curve and the PD histogram
were kept) are simply absent: the page shows the charts it can.
"""

from __future__ import annotations

from typing import Any

from applicants.presentation import feature_label
from scoring.fairness import held_out_audit
from scoring.ml.features.build import AGE_BANDS
from scoring.ml.features.families import family_of
from scoring.ml.training.metrics import confusion_at
from scoring.models import DecisionPolicy, ModelVersion
from scoring.policy import Thresholds

#: One line per figure, for a reader who does not know the abbreviation.
METRIC_HELP: dict[str, str] = {
    "roc_auc": "ROC AUC: the chance that a random defaulter gets a higher PD than a random "
    "good payer (50% is a coin toss, 100% perfect).",
    "gini": "Gini: 2 * AUC - 1, the same ranking power on a 0 to 100% scale.",
    "ks": "KS: the widest gap between the defaulters' and good payers' PD distributions.",
    "brier": "Brier score: the mean squared gap between PD and outcome (lower is better).",
    "log_loss": "Log loss: how surprised the model is by the outcomes (lower is better).",
    "oracle_roc_auc": "Oracle AUC (generated data only): the AUC of the generator's true "
    "probabilities, the best any model can reach on these rows.",
    "observed_rate": "Observed default rate of the held-out rows.",
    "tpr": "TPR (true-positive rate): share of the group's defaulters that the policy flags.",
    "fpr": "FPR (false-positive rate): share of the group's good payers that it flags.",
}
PERCENT_METRICS = ("roc_auc", "gini", "ks", "oracle_roc_auc", "observed_rate")
BASE_MODEL_LABELS = {"lightgbm": "LightGBM", "xgboost": "XGBoost", "catboost": "CatBoost"}
_AGE_ORDER = {label: i for i, (label, *_bounds) in enumerate(AGE_BANDS)}


def held_out(metrics: dict[str, Any]) -> dict[str, Any]:
    return (metrics.get("ensemble") or {}).get("holdout_calibrated") or {}


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Held-out figures per base model and for the served (calibrated) ensemble."""
    rows = [
        {"name": BASE_MODEL_LABELS.get(name, name), **figures.get("holdout", {})}
        for name, figures in (metrics.get("base_models") or {}).items()
    ]
    ensemble = held_out(metrics)
    if ensemble:
        rows.append({"name": "Ensemble (served, calibrated)", **ensemble, "served": True})
    return rows


def fairness_tables(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Each protected attribute's groups, age bands in age order."""
    fairness = metrics.get("fairness") or {}
    out = []
    for attribute, report in fairness.items():
        if not (isinstance(report, dict) and "groups" in report):
            continue
        groups = sorted(report["groups"].items(), key=lambda item: group_order(item[0]))
        out.append(
            {
                "attribute": ATTRIBUTE_LABELS.get(attribute, attribute),
                "parity_ratio": report.get("demographic_parity_ratio"),
                "odds_difference": report.get("equalized_odds_difference"),
                "groups": [{"name": name, **figures} for name, figures in groups],
            }
        )
    return out


ATTRIBUTE_LABELS = {"CODE_GENDER": "Gender", "AGE_BAND": "Age group"}


def group_order(name: str) -> tuple[int, str]:
    return (_AGE_ORDER.get(name, 99), name)


def importance_rows(metrics: dict[str, Any], top: int = 15) -> list[dict[str, Any]]:
    """The served score's most important features, with readable labels and families.
    A feature of a protected attribute (no family) is never named."""
    table = ((metrics.get("ensemble") or {}).get("importance") or {}).get("top", [])
    rows = []
    for row in table:
        family = family_of(row["feature"])
        if family is None:
            continue
        rows.append(
            {
                "feature": row["feature"],
                "label": feature_label(row["feature"]),
                "family": family.text,
                "importance": row["importance"],
            }
        )
        if len(rows) == top:
            break
    return rows


def chart_data(metrics: dict[str, Any], policy: Thresholds | None) -> dict[str, Any]:
    """The JSON the model page's charts draw (see static/js/models.js)."""
    curves = (metrics.get("ensemble") or {}).get("curves") or {}
    ensemble = held_out(metrics)
    confusion = None
    if curves.get("pd_histogram") and policy is not None:
        confusion = confusion_at(
            curves["pd_histogram"],
            approve_below=policy.approve_below,
            reject_at_or_above=policy.reject_at_or_above,
        )
    return {
        "roc": curves.get("roc") or None,
        "oracle_roc": curves.get("oracle_roc") or None,
        "calibration": [
            {"decile": r["decile"], "predicted": r["predicted"], "observed": r["observed"]}
            for r in ensemble.get("calibration", [])
        ],
        "confusion": confusion,
        "importance": [
            {"label": r["label"], "family": r["family"], "value": r["importance"]}
            for r in importance_rows(metrics)
        ],
        "auc": [
            {"name": r["name"], "auc": r.get("roc_auc"), "oracle": r.get("oracle_roc_auc")}
            for r in metric_rows(metrics)
            if r.get("roc_auc") is not None
        ],
    }


def confusion_summary(confusion: dict[str, dict[str, int]] | None) -> dict[str, Any] | None:
    """Rates a reader wants from the matrix: defaulters approved, good payers rejected."""
    if not confusion:
        return None
    defaults = sum(confusion["default"].values())
    repaid = sum(confusion["repaid"].values())
    approved = confusion["default"]["approve"] + confusion["repaid"]["approve"]
    return {
        "matrix": confusion,
        "defaults": defaults,
        "repaid": repaid,
        "approval_rate": approved / (defaults + repaid) if defaults + repaid else None,
        "bad_rate_approved": confusion["default"]["approve"] / approved if approved else None,
        "good_rejected": confusion["repaid"]["reject"] / repaid if repaid else None,
    }


def model_report(model: ModelVersion, policy: DecisionPolicy | None) -> dict[str, Any]:
    """Everything the model page and the promotion page show about one version."""
    metrics = model.metrics or {}
    charts = chart_data(metrics, policy)
    return {
        "model": model,
        "metric_rows": metric_rows(metrics),
        "served": held_out(metrics),
        "fairness": fairness_tables(metrics),
        "policy_fairness": held_out_audit(metrics, policy),
        "policy": policy,
        "fairness_threshold": (metrics.get("fairness") or {}).get("threshold"),
        "importance": importance_rows(metrics),
        "charts": charts,
        "confusion": confusion_summary(charts["confusion"]),
        "has_reference": bool(metrics.get("reference")),
    }


#: The figures a promotion compares: (label, where to read it, how to show it, better when).
_COMPARED = (
    ("ROC AUC (held-out)", ("served", "roc_auc"), "percent", "higher"),
    ("KS", ("served", "ks"), "percent", "higher"),
    ("Brier score", ("served", "brier"), "decimal", "lower"),
    ("Oracle AUC (generated data)", ("served", "oracle_roc_auc"), "percent", None),
    ("Approved at the policy", ("confusion", "approval_rate"), "percent", None),
    ("Defaults among approved", ("confusion", "bad_rate_approved"), "percent", "lower"),
    ("Good payers rejected", ("confusion", "good_rejected"), "percent", "lower"),
)


def comparison_rows(
    candidate: dict[str, Any], active: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The candidate's and the active version's figures side by side, with the change and
    whether it is an improvement (None where "better" has no direction)."""
    rows = []
    for label, (section, key), kind, better in _COMPARED:
        new = (candidate.get(section) or {}).get(key)
        old = ((active or {}).get(section) or {}).get(key)
        change = new - old if new is not None and old is not None else None
        improves = None
        if change is not None and better is not None and change != 0:
            improves = (change > 0) == (better == "higher")
        rows.append(
            {
                "label": label,
                "kind": kind,
                "candidate": new,
                "active": old,
                "change": change,
                "improves": improves,
            }
        )
    return [row for row in rows if row["candidate"] is not None or row["active"] is not None]
