"""Shaping decisions for the officer's pages: the gauge, the SHAP chart, the key figures.

Pure functions over a decision's stored values; nothing here queries or decides.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from credscope_site import formatting
from scoring.counteroffers import NOT_SEARCHED
from scoring.ml.features.build import feature_catalogue
from scoring.ml.features.families import COLUMN_LABELS, explanation_key, family_label
from scoring.ml.schema.tables import DAYS_SENTINEL
from scoring.ml.serving.age_rule import AGE_RULE_ITEM
from scoring.ml.serving.explain import family_points

TOP_CONTRIBUTIONS = 10
DAYS_PER_YEAR = 365.25

_WORDS = {
    "AMT": "amount",
    "CNT": "count",
    "DPD": "days past due",
    "DBD": "days paid early",
    "EXT": "external",
    "APP": "application",
    "PREV": "previous",
    "POS": "point-of-sale",
    "CC": "card",
    "INST": "instalments",
    "INSTAL": "instalments",
    "BURO": "bureau",
    "BB": "bureau months",
    "IX": "",
    "NULLS": "missing",
    "NUNIQUE": "kinds",
}
# Raw history columns as they appear inside the feature catalogue's descriptions.
_COLUMN_WORDS = {
    "AMT_CREDIT_SUM_OVERDUE": "overdue amount",
    "AMT_CREDIT_MAX_OVERDUE": "largest overdue amount",
    "AMT_CREDIT_SUM_DEBT": "outstanding debt",
    "AMT_CREDIT_SUM_LIMIT": "credit limit",
    "AMT_CREDIT_SUM": "credit amount",
    "CREDIT_DAY_OVERDUE": "days overdue",
    "CNT_CREDIT_PROLONG": "prolongations",
    "DAYS_CREDIT": "days since opened",
    "DAYS_DECISION": "days since the decision",
    "AMT_APPLICATION": "amount applied for",
    "AMT_PAYMENT": "amount paid",
    "AMT_INSTALMENT": "instalment amount",
    "SK_DPD": "days past due",
    "SK_DPD_DEF": "days past due (tolerance)",
    "DPD": "days past due",
    "DBD": "days paid early",
    "UNDERPAID": "amount underpaid",
    "LATE": "late payments",
}
_COLUMN_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b(?:DPD|DBD|UNDERPAID|LATE)\b")
# The catalogue's sentences, made short enough for a chart label.
_SHORTER: tuple[tuple[str, str], ...] = (
    (r"^mean of (.*?) over (all )?", r"avg \1 · "),
    (r"^maximum of (.*?) over (all )?", r"max \1 · "),
    (r"^minimum of (.*?) over (all )?", r"min \1 · "),
    (r"^total of (.*?) over (all )?", r"total \1 · "),
    (r"^standard deviation of (.*?) over (all )?", r"spread of \1 · "),
    (r" (?:in|of) the last (\d+) months", r" (\1 m)"),
    (r" with [\w ]+ = '(.*)'$", r": \1"),
)
_ONE_HOT_VALUE = re.compile(r"is '(.*)'$")
MAX_LABEL = 60


@dataclass(frozen=True)
class _Spec:
    kind: str
    group: str
    description: str
    vocabulary: tuple[str, ...]


@functools.cache
def _specs() -> dict[str, _Spec]:
    """The model features' catalogue (kinds, groups, descriptions), built once per process."""
    return {
        spec.name: _Spec(str(spec.kind), spec.group, spec.description, spec.vocabulary)
        for spec in feature_catalogue()
    }


def _humanize(name: str) -> str:
    words = [_WORDS.get(part, part.lower()) for part in re.split(r"[_\s]+", name) if part]
    text = " ".join(word for word in words if word) or name
    return text[:1].upper() + text[1:]


def _describe(description: str) -> str:
    def column(match: re.Match[str]) -> str:
        token = match.group(0)
        return (
            COLUMN_LABELS.get(token, "").lower()
            or _COLUMN_WORDS.get(token)
            or _humanize(token).lower()
        )

    text = _COLUMN_TOKEN.sub(column, description.replace("POS / cash", "POS & cash"))
    for long, short in _SHORTER:
        text = re.sub(long, short, text)
    text = text.replace(" / ", " per ")
    text = text[:1].upper() + text[1:]
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "\u2026"


def feature_label(name: str) -> str:
    """A readable name for a model feature: known application columns by their form label,
    one-hot and coded categories by their column, history features by the catalogue's
    description, anything else by the words of its name."""
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    spec = _specs().get(name)
    if spec is None:
        return _humanize(name)
    group = COLUMN_LABELS.get(spec.group) or _humanize(spec.group)
    if spec.kind == "one_hot":
        match = _ONE_HOT_VALUE.search(spec.description)
        return f"{group}: {match.group(1)}" if match else group
    if spec.kind in ("category_code", "flag"):
        return group
    if spec.description.startswith("application column"):
        return _humanize(name)
    return _describe(spec.description)


def format_value(value: Any, feature: str = "") -> str:
    """An applicant's value as it reads in a chart label (day offsets in years or days,
    category codes as their category, shares in percent)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    spec = _specs().get(feature) if feature and feature not in COLUMN_LABELS else None
    if spec is not None and isinstance(value, int | float):
        if spec.kind == "one_hot":
            return "yes" if value else "no"
        if spec.kind == "category_code" and spec.vocabulary and 0 <= value < len(spec.vocabulary):
            return spec.vocabulary[int(value)]
        if spec.kind == "share":
            return f"{value:.0%}"
    if isinstance(value, int | float):
        if value == DAYS_SENTINEL:
            return "not employed" if feature == "DAYS_EMPLOYED" else "never"
        if feature in ("DAYS_BIRTH", "DAYS_EMPLOYED"):
            return f"{-value / DAYS_PER_YEAR:.1f} years"
        if feature.startswith("DAYS_") and value <= 0:
            return f"{-value:,.0f} days ago"
        if float(value).is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


@dataclass(frozen=True)
class ContributionChart:
    labels: list[str]
    values: list[float]
    features: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"labels": self.labels, "values": self.values, "features": self.features}


#: Families shown by name in the chart; the rest are one "other" bar, so the bars still add up.
TOP_FAMILIES = 10


def family_chart(
    totals: Mapping[str, float], *, base_value: float, logit: float
) -> ContributionChart:
    """Each family's effect on the PD in percentage points, largest first: the bars add up
    to this applicant's PD minus the base PD (`scoring.ml.serving.explain.family_points`)."""
    rows = family_points(totals, base_value=base_value, logit=logit)
    shown, rest = rows[:TOP_FAMILIES], rows[TOP_FAMILIES:]
    labels = [family_label(str(row["family"])) for row in shown]
    values = [row["points"] for row in shown]
    features = [str(row["family"]) for row in shown]
    if rest:
        labels.append(f"{len(rest)} other families")
        values.append(sum(row["points"] for row in rest))
        features.append("other")
    return ContributionChart(labels=labels, values=[round(v, 4) for v in values], features=features)


def explanation_families(
    totals: Mapping[str, float], *, base_value: float, logit: float
) -> list[dict[str, Any]]:
    """The API's families: key, readable label, percentage points of PD and log-odds."""
    return [
        {
            "family": row["family"],
            "label": family_label(str(row["family"])),
            "points": row["points"],
            "contribution": row["contribution"],
        }
        for row in family_points(totals, base_value=base_value, logit=logit)
    ]


def feature_details(
    contributions: Iterable[Mapping[str, Any]], top: int = 25
) -> list[dict[str, Any]]:
    """The raw per-feature SHAP values (log-odds), largest first, for the details view."""
    items = [item for item in contributions if item.get("contribution") is not None]
    items.sort(key=lambda item: abs(float(item["contribution"])), reverse=True)
    out = []
    for item in items[:top]:
        feature = str(item.get("feature", ""))
        label = (
            "Age rule (62 and over): age may not count against the applicant"
            if feature == AGE_RULE_ITEM
            else feature_label(feature)
        )
        out.append(
            {
                "feature": feature,
                "label": label,
                "value": format_value(item.get("value"), feature),
                # The group the chart shows it under (its family, or a not-provided or
                # no-history bucket), so the two views agree.
                "family": family_label(explanation_key(item)),
                "contribution": float(item["contribution"]),
            }
        )
    return out


def contribution_chart(
    contributions: Iterable[Mapping[str, Any]], top: int = TOP_CONTRIBUTIONS
) -> ContributionChart:
    """The `top` SHAP contributions by size, largest first; labels carry applicant values.

    Positive values raise the risk of default, negative ones lower it.
    """
    items = [item for item in contributions if item.get("contribution") is not None]
    items.sort(key=lambda item: abs(float(item["contribution"])), reverse=True)
    chosen = items[:top]
    return ContributionChart(
        labels=[
            f"{feature_label(str(item.get('feature', '')))} = "
            f"{format_value(item.get('value'), str(item.get('feature', '')))}"
            for item in chosen
        ],
        values=[round(float(item["contribution"]), 6) for item in chosen],
        features=[str(item.get("feature", "")) for item in chosen],
    )


@dataclass(frozen=True)
class Gauge:
    """Geometry of a half-circle gauge (SVG, 200 x 120) of the probability of default."""

    scale_max: float
    approve_arc: str
    refer_arc: str
    reject_arc: str
    needle_x: float
    needle_y: float
    percent: str


_CX, _CY, _R = 100.0, 100.0, 80.0


def _point(fraction: float, radius: float = _R) -> tuple[float, float]:
    angle = math.pi * (1 - min(max(fraction, 0.0), 1.0))
    return round(_CX + radius * math.cos(angle), 2), round(_CY - radius * math.sin(angle), 2)


def _arc(start: float, end: float) -> str:
    (x0, y0), (x1, y1) = _point(start), _point(end)
    return f"M {x0} {y0} A {_R} {_R} 0 0 1 {x1} {y1}"


def pd_gauge(probability: float, *, approve_below: float, reject_at_or_above: float) -> Gauge:
    """Green up to the approve threshold, amber to the reject threshold, red beyond.

    The scale ends at twice the reject threshold (at most 100%) so that the thresholds,
    where decisions are made, take most of the dial.
    """
    scale_max = min(1.0, max(2 * reject_at_or_above, 0.1))
    approve, reject = approve_below / scale_max, reject_at_or_above / scale_max
    needle_x, needle_y = _point(probability / scale_max, radius=_R - 14)
    return Gauge(
        scale_max=scale_max,
        approve_arc=_arc(0.0, approve),
        refer_arc=_arc(approve, reject),
        reject_arc=_arc(reject, 1.0),
        needle_x=needle_x,
        needle_y=needle_y,
        percent=f"{probability * 100:.1f}%",
    )


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


def key_figures(row: Mapping[str, Any]) -> list[Figure]:
    """The applicant's figures an officer checks first, from the submitted row."""
    figures: list[Figure] = []

    def add(label: str, value: str | None) -> None:
        if value is not None:
            figures.append(Figure(label, value))

    income, credit = row.get("AMT_INCOME_TOTAL"), row.get("AMT_CREDIT")
    annuity, goods = row.get("AMT_ANNUITY"), row.get("AMT_GOODS_PRICE")
    add("Annual income", _money(income))
    add("Requested credit", _money(credit))
    add("Annuity", _money(annuity))
    add("Goods price", _money(goods))
    if income and credit:
        add("Credit / income", f"{credit / income:.2f} x")
    if income and annuity:
        add("Annuity / income", f"{annuity / income:.0%}")
    if row.get("DAYS_BIRTH") is not None:
        add("Age", f"{int(-row['DAYS_BIRTH'] // DAYS_PER_YEAR)} years")
    employed = row.get("DAYS_EMPLOYED")
    if employed == DAYS_SENTINEL:
        add("Employment", "Not employed")
    elif employed is not None:
        add("Employed for", f"{-employed / DAYS_PER_YEAR:.1f} years")
    add("Income type", row.get("NAME_INCOME_TYPE"))
    add("Occupation", row.get("OCCUPATION_TYPE"))
    add("Education", row.get("NAME_EDUCATION_TYPE"))
    add("Family status", row.get("NAME_FAMILY_STATUS"))
    if row.get("CNT_CHILDREN") is not None:
        add("Children", str(row["CNT_CHILDREN"]))
    add("Housing", row.get("NAME_HOUSING_TYPE"))
    for index in (1, 2, 3):
        value = row.get(f"EXT_SOURCE_{index}")
        if value is not None:
            add(f"External score {index}", f"{value:.3f}")
    return figures


def _money(value: Any) -> str | None:
    return None if value is None else formatting.money(value)


_NICE_WIDTHS = (0.005, 0.01, 0.02, 0.025, 0.05, 0.1)


def pd_histogram(probabilities: Iterable[float], *, reject_at_or_above: float) -> dict[str, list]:
    """Counts of probabilities of default in about 20 bins of a round width.

    The scale covers the reject threshold and the largest probability, so the policy's zones
    and every value show; a probability above the scale falls in the last, open bin.
    """
    values = list(probabilities)
    top = max([reject_at_or_above * 1.2, *values]) if values else reject_at_or_above * 1.2
    upper = min(1.0, max(0.1, math.ceil(round(top / 0.05, 9)) * 0.05))
    width = next((w for w in _NICE_WIDTHS if upper / w <= 20), 0.1)
    bins = math.ceil(round(upper / width, 9))
    edges = [round(i * width, 6) for i in range(bins)]
    counts = [0] * bins
    for value in values:
        counts[min(int(value / width), bins - 1)] += 1
    labels = [f"{edge * 100:g}\u2013{(edge + width) * 100:g}%" for edge in edges]
    if edges[-1] + width < 1.0:
        labels[-1] = f"\u2265 {edges[-1] * 100:g}%"
    return {"labels": labels, "counts": counts, "lower_edges": edges, "width": width}


#: What a counteroffer shows: the terms, the term, the PD and the outcome (and its kind).
COUNTEROFFER_KEYS = ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE", "term_months",
                     "probability_of_default", "outcome", "kind")  # fmt: skip


def counteroffer_shown(decision: Any) -> dict[str, Any]:
    """A decision's counteroffer as pages and the API show it: {"offer": the terms or None,
    "reason": what the offer is, or why there is none}."""
    document = decision.counteroffer
    if document is None:
        return {"offer": None, "reason": NOT_SEARCHED}
    offer = document.get("offer")
    return {
        "offer": None if offer is None else {key: offer.get(key) for key in COUNTEROFFER_KEYS},
        "reason": document.get("reason", ""),
    }
