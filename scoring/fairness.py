"""The fair-lending audit of a model version, before and beside its live decisions.

The maths are `scoring.ml.fairness`, the very functions the compliance audits run on live
decisions (`audits.fairness_services`), with the same protected attributes, bands, reference
groups, tests and verdict limits from settings. Here they run on what a model admin weighs
before a change: a version's held-out rows at the active policy's thresholds (model page,
promotion page), the last decisions replayed at proposed thresholds (policy what-if), and a
challenger's shadow outcomes beside the champion's (challenger comparison).

There are no officer overrides in any of these, so the audit's "model" basis is the one shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from scoring.ml import fairness
from scoring.policy import Thresholds as PolicyThresholds

#: The audit basis the model pages show: the policy's own outcome (nothing is overridden).
BASIS = "model"


def attribute_specs(names: Sequence[str] | None = None) -> list[fairness.AttributeSpec]:
    """The protected attributes from settings (all, or those named, in settings order)."""
    configured = settings.CREDSCOPE_FAIRNESS["attributes"]
    chosen = [n for n in configured if names is None or n in names]
    return [
        fairness.AttributeSpec(
            name=name,
            label=configured[name]["label"],
            source=configured[name]["source"],
            bands=tuple(configured[name].get("bands", ())),
            reference=configured[name].get("reference"),
            value_labels=configured[name].get("value_labels", {}),
        )
        for name in chosen
    ]


def audit_thresholds() -> fairness.Thresholds:
    config = settings.CREDSCOPE_FAIRNESS
    return fairness.Thresholds(
        min_count=config["min_count"],
        ratio=config["ratio"],
        alpha=config["alpha"],
        exact_test_below=config["exact_test_below"],
    )


def policy_outcomes(pds: np.ndarray, policy: PolicyThresholds) -> np.ndarray:
    """`scoring.policy.outcome_for` over an array: APPROVE below `approve_below`, REJECT at
    or above `reject_at_or_above`, REFER between."""
    pds = np.asarray(pds, dtype=np.float64)
    return np.where(
        pds < policy.approve_below,
        fairness.APPROVE,
        np.where(pds >= policy.reject_at_or_above, fairness.REJECT, fairness.REFER),
    ).astype(object)


def decision_frame(
    *,
    pds: np.ndarray,
    outcomes: np.ndarray,
    code_gender: Sequence[str | None],
    age_years: Sequence[float | None],
    family_status: Sequence[str | None],
    loan_outcomes: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """The frame `scoring.ml.fairness.audit_compute` reads, for decisions nobody overrode."""
    n = len(pds)
    outcomes = np.asarray(outcomes, dtype=object)
    return pd.DataFrame(
        {
            "pd": np.asarray(pds, dtype=np.float64),
            "model_outcome": outcomes,
            "final_outcome": outcomes,
            "override": np.full(n, None, dtype=object),
            "loan_outcome": np.asarray(
                [None] * n if loan_outcomes is None else loan_outcomes, dtype=object
            ),
            "code_gender": np.asarray(code_gender, dtype=object),
            "age_years": pd.to_numeric(pd.Series(age_years, dtype=object), errors="coerce"),
            "family_status": np.asarray(family_status, dtype=object),
        }
    )


def audit(frame: pd.DataFrame) -> dict[str, Any]:
    """The audit's figures over `frame`, in the order and words the model pages show."""
    specs = attribute_specs()
    limits = audit_thresholds()
    figures = fairness.audit_compute(frame, specs, limits)
    return audit_view(figures, limits)


def audit_view(figures: dict[str, Any], limits: fairness.Thresholds) -> dict[str, Any]:
    """Ordered rows with verdict labels, for `templates/scoring/models/_audit_fairness.html`
    (the compliance audit page's style: reference tag, impact ratio, p-value, verdict)."""
    attributes = []
    for name, attribute in figures["attributes"].items():
        basis = attribute.get(BASIS) or {}
        groups = basis.get("groups", {})
        outcomes = (attribute.get("outcomes") or {}).get(BASIS) or {}
        outcome_groups = outcomes.get("groups", {})
        reference = attribute.get("reference")
        rows = [
            {
                "group": group,
                "is_reference": group == reference,
                "verdict_label": fairness.verdict_label(groups[group]["verdict"]),
                **groups[group],
                "outcome": outcome_groups.get(group),
            }
            for group in attribute.get("order", [])
            if group in groups
        ]
        verdict = basis.get("verdict", fairness.REVIEW)
        attributes.append(
            {
                "name": name,
                "label": attribute["label"],
                "reference": reference,
                "reference_source": attribute.get("reference_source"),
                "verdict": verdict,
                "verdict_label": fairness.verdict_label(verdict),
                "rows": rows,
                "has_outcomes": bool(outcome_groups),
                "differences": outcomes.get("differences", {}),
            }
        )
    verdict = fairness.worst(a["verdict"] for a in attributes) if attributes else fairness.PASS
    return {
        "decisions": figures["totals"]["decisions"],
        "outcomes_recorded": figures["totals"]["outcomes_recorded"],
        "verdict": verdict,
        "verdict_label": fairness.verdict_label(verdict),
        "attributes": attributes,
        "min_count": limits.min_count,
        "ratio": limits.ratio,
    }


# --- the model's own rows ------------------------------------------------------------------


def held_out_audit(
    metrics: dict[str, Any], policy: PolicyThresholds | None
) -> dict[str, Any] | None:
    """The audit of a version's held-out rows (cross-fitted calibrated PDs, true outcomes)
    decided at `policy`'s thresholds. None without a policy, or for a bundle trained before
    the rows were kept (`metrics["ensemble"]["curves"]["audit_rows"]`)."""
    rows = ((metrics.get("ensemble") or {}).get("curves") or {}).get("audit_rows")
    if policy is None or not rows or not rows.get("pd"):
        return None
    pds = np.asarray(rows["pd"], dtype=np.float64)
    defaulted = np.asarray(rows["defaulted"], dtype=bool)
    frame = decision_frame(
        pds=pds,
        outcomes=policy_outcomes(pds, policy),
        code_gender=_decoded(rows["code_gender"]),
        age_years=rows["age_years"],
        family_status=_decoded(rows["family_status"]),
        loan_outcomes=np.where(defaulted, fairness.DEFAULTED, fairness.REPAID),
    )
    view = audit(frame)
    view["held_out"] = rows.get("held_out", len(pds))
    return view


def _decoded(column: dict[str, list]) -> list[str | None]:
    values = column["values"]
    return [values[code] or None for code in column["codes"]]
