"""Plain-language reasons for a decision, from the SHAP contributions that raise risk most.

Pure functions over the contributions a `Score` carries (logit space, sorted by size). Each
model feature belongs to one family (`scoring.ml.features.families`, where families are
defined once); the features of a family count as one reason, ranked by their summed
contribution.

The texts are written for an adverse-action notice: they say what in the application or the
credit history raised the risk, in words an applicant understands, and never name a protected
attribute (gender, and anything derived from it, is never a reason even if a model used it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scoring.ml.features.families import Family, family_of

DEFAULT_REASON_COUNT = 4


# The applicant's own figure, where the strongest feature of a reason states it plainly.
_DETAILS: dict[str, Callable[[float], str | None]] = {
    "CREDIT_TO_INCOME": lambda v: f"The credit is {v:.1f} times annual income" if v > 0 else None,
    "ANNUITY_TO_INCOME": lambda v: (
        f"Yearly repayments would be {v:.0%} of annual income" if 0 < v < 10 else None
    ),
    "EXT_SOURCE_MEAN": lambda v: (
        f"Average external score {v:.2f} on a scale of 0 to 1" if 0 <= v <= 1 else None
    ),
    "CREDIT_TO_GOODS": lambda v: f"The credit is {v:.0%} of the goods price" if v > 0 else None,
}


def reasons_from_contributions(
    contributions: Iterable[Mapping[str, Any]], *, limit: int = DEFAULT_REASON_COUNT
) -> list[dict[str, Any]]:
    """Up to `limit` reasons that raised the risk most, strongest first.

    Each reason is `{"code", "text", "detail", "contribution", "features"}`: the summed
    logit contribution of its risk-raising features and their names (the strongest first).
    `detail` states the applicant's own figure when the strongest feature is a ratio that
    reads well ("5.0 times annual income"), else "". An application with nothing raising its
    risk gets no reasons.
    """
    grouped: dict[str, dict[str, Any]] = {}
    for item in contributions:
        contribution = _number(item.get("contribution"))
        if contribution is None or contribution <= 0:
            continue
        feature = str(item.get("feature", ""))
        rule = family_of(feature)
        if rule is None:
            continue
        entry = grouped.get(rule.code)
        if entry is None:
            entry = grouped[rule.code] = {
                "rule": rule,
                "contribution": 0.0,
                "features": [],
                "top": (contribution, feature, item.get("value")),
            }
        entry["contribution"] += contribution
        entry["features"].append(feature)
        if contribution > entry["top"][0]:
            entry["top"] = (contribution, feature, item.get("value"))
    ranked = sorted(grouped.values(), key=lambda e: e["contribution"], reverse=True)[:limit]
    reasons = []
    for entry in ranked:
        rule: Family = entry["rule"]
        _, top_feature, top_value = entry["top"]
        reasons.append(
            {
                "code": rule.code,
                "text": rule.text,
                "detail": _detail(top_feature, top_value),
                "contribution": round(entry["contribution"], 6),
                "features": entry["features"],
            }
        )
    return reasons


def _detail(feature: str, value: Any) -> str:
    formatter = _DETAILS.get(feature)
    number = _number(value)
    if formatter is None or number is None:
        return ""
    return formatter(number) or ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
