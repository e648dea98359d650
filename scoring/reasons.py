"""Plain-language reasons for a decision: what raised the risk, each true of the applicant.

Pure functions over a score's contributions (logit space; each carries its ``family`` and
``status``, see `scoring.ml.serving.explain.FeatureGroups.mark_given`). The families are
defined once, in `scoring.ml.features.families`. A reason is a statement to the applicant
and the regulator, so four rules hold:

1. **Missing is never a reason.** Contributions of inputs that were not sent go to one
   honest item, "Information not provided: ...", naming the fields; they never support a
   reason about creditworthiness.
2. **No history, no history reason.** Contributions of history tables the applicant has no
   rows in go to one item, "No credit history" (or, when only part is absent, the part:
   "No credit history with other lenders"), given only when together they raise the risk.
3. **A direction must hold.** A family whose words name a direction ("low external
   scores") is given only when one of its measures lies on that side of the training
   population's median; the reason then states the fact ("average external score 0.21;
   80% of applicants score higher").
4. **Every reason carries its fact**, and gender, or anything derived from it, is never
   one (such features have no family).

Reasons are ranked by the summed contribution of the features they stand for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from scoring.ml.features.families import BY_CODE, COLUMN_LABELS, Family, family_of
from scoring.ml.schema.tables import HISTORY_TABLES

DEFAULT_REASON_COUNT = 4
NOT_PROVIDED = "NOT_PROVIDED"
NO_CREDIT_HISTORY = "NO_CREDIT_HISTORY"
#: Shown for an applicant without rows in some history tables (and rows in others).
_ABSENT_HISTORY: dict[str, tuple[str, str]] = {
    "bureau": ("NO_BUREAU_HISTORY", "No credit history with other lenders"),
    "bureau_balance": ("NO_BUREAU_HISTORY", "No credit history with other lenders"),
    "previous_application": ("NO_PREVIOUS_APPLICATIONS", "No previous credit applications"),
    "POS_CASH_balance": ("NO_POS_HISTORY", "No record of consumer or cash loans"),
    "installments_payments": ("NO_INSTALMENT_HISTORY", "No repayment record on previous loans"),
    "credit_card_balance": ("NO_CARD_HISTORY", "No credit-card history"),
}
#: A history family's fact when it names no direction: how much history there is.
_HISTORY_FACTS: dict[str, tuple[str, str]] = {
    "BUREAU_HISTORY": ("bureau", "{n:,} credits with other lenders on record"),
    "PREVIOUS_APPLICATIONS": ("previous_application", "{n:,} previous credit applications"),
    "INSTALMENT_HISTORY": ("installments_payments", "{n:,} instalment payments on record"),
    "POS_HISTORY": ("POS_CASH_balance", "{n:,} monthly records of consumer and cash loans"),
    "CARD_HISTORY": ("credit_card_balance", "{n:,} monthly credit-card statements"),
}


def reasons_for(
    contributions: Iterable[Mapping[str, Any]],
    *,
    history_rows: Mapping[str, int] | None = None,
    measures: Mapping[str, Mapping[str, Any]] | None = None,
    limit: int = DEFAULT_REASON_COUNT,
) -> list[dict[str, Any]]:
    """Up to `limit` true reasons that raised the risk most, strongest first.

    Each reason is ``{"code", "family", "text", "fact", "detail", "contribution",
    "features"}`` (``detail`` repeats ``fact`` for older readers); a directional one also
    carries its ``measure`` (feature, value, adverse side, share on the other side).
    ``history_rows`` is the applicant's row count per history table, ``measures`` the
    directional measures as the scorer placed them (`ScoreResult.measures`).
    """
    history_rows = dict(history_rows or {})
    measures = measures or {}
    families: dict[str, dict[str, Any]] = {}
    not_provided = {"contribution": 0.0, "features": []}
    absent: dict[str, dict[str, Any]] = {}
    # Once per applicant, not per item: a decision has hundreds of history items.
    any_history = any(history_rows.get(t, 0) for t in HISTORY_TABLES)
    for item in contributions:
        contribution = _number(item.get("contribution"))
        if contribution is None:
            continue
        family = _family(item)
        if family is None:
            continue
        status = item.get("status", "given")
        feature = str(item.get("feature", ""))
        if status == "not_provided":
            _add(not_provided, contribution, feature)
            if contribution > 0:
                not_provided.setdefault("inputs", []).extend(item.get("missing") or [feature])
        elif status == "no_history":
            code, text = _absent_story(feature, item.get("absent") or (), any_history)
            entry = absent.setdefault(code, {"text": text, "contribution": 0.0, "features": []})
            _add(entry, contribution, feature)
        else:
            entry = families.setdefault(
                family.code, {"family": family, "contribution": 0.0, "features": []}
            )
            _add(entry, contribution, feature, item.get("value"))
    candidates = [
        reason
        for entry in families.values()
        if entry["contribution"] > 0 and (reason := _family_reason(entry, history_rows, measures))
    ]
    candidates += _absent_reasons(absent, history_rows)
    if not_provided["contribution"] > 0:
        candidates.append(_not_provided_reason(not_provided))
    candidates.sort(key=lambda r: r["contribution"], reverse=True)
    return candidates[:limit]


# --- the pieces ------------------------------------------------------------------------------


def _family(item: Mapping[str, Any]) -> Family | None:
    feature = str(item.get("feature", ""))
    if family_of(feature) is None:  # never named, whatever a stored row says
        return None
    key = item.get("family")
    if key:
        return BY_CODE.get(str(key).upper())
    return family_of(feature)


def _add(entry: dict[str, Any], contribution: float, feature: str, value: Any = None) -> None:
    entry["contribution"] += contribution
    if contribution > 0:
        entry["features"].append(feature)
        entry.setdefault("values", []).append((feature, value))
        top = entry.get("top")
        if top is None or contribution > top[0]:
            entry["top"] = (contribution, feature, value)


def _family_reason(
    entry: dict[str, Any],
    history_rows: Mapping[str, int],
    measures: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any] | None:
    family: Family = entry["family"]
    if not family.directional:
        fact = _plain_fact(family, entry, history_rows)
        return _reason(family.code, family.key, family.text, fact, entry)
    # The fact of the first measure on the adverse side; none: the words would be false.
    for measure in family.measures:
        placed = measures.get(measure.feature)
        if not placed or placed.get("share") is None:
            continue
        value, share = float(placed["value"]), float(placed["share"])
        reason = _reason(
            family.code,
            family.key,
            family.text,
            measure.fact.format(value=value, share=share),
            entry,
        )
        reason["measure"] = {
            "feature": measure.feature,
            "value": value,
            "adverse": measure.adverse,
            "share": share,
        }
        return reason
    return None


def _plain_fact(family: Family, entry: Mapping[str, Any], history_rows: Mapping[str, int]) -> str:
    if family.code in _HISTORY_FACTS:
        table, text = _HISTORY_FACTS[family.code]
        return text.format(n=int(history_rows.get(table, 0)))
    # The applicant's own figure: the strongest feature that is a column of the application
    # form, else the strongest one with a value, in words.
    shown = [(f, v) for f, v in entry.get("values", []) if v is not None]
    if not shown:
        return ""
    feature, value = next(((f, v) for f, v in shown if f in COLUMN_LABELS), shown[0])
    label = COLUMN_LABELS.get(feature) or _words(feature)
    if feature == "DAYS_BIRTH" and isinstance(value, int | float):
        return f"{label}: {-value / 365.25:.0f} years"
    if isinstance(value, float):
        value = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{label}: {value}"


def _absent_story(feature: str, absent: Iterable[str], any_history: bool) -> tuple[str, str]:
    """The words for history the applicant does not have: all of it, or the part."""
    if not any_history:
        return NO_CREDIT_HISTORY, "No credit history"
    for table in absent:
        if table in _ABSENT_HISTORY:
            return _ABSENT_HISTORY[table]
    for prefix, table in (
        ("BB_", "bureau"),
        ("BURO_", "bureau"),
        ("PREV_", "previous_application"),
        ("POS_", "POS_CASH_balance"),
        ("INST_", "installments_payments"),
        ("CC_", "credit_card_balance"),
    ):
        if feature.startswith(prefix):
            return _ABSENT_HISTORY[table]
    return "NO_HISTORY_PART", "Part of the credit history is not on record"


def _absent_reasons(
    absent: Mapping[str, Mapping[str, Any]], history_rows: Mapping[str, int]
) -> list[dict[str, Any]]:
    out = []
    for code, entry in absent.items():
        if entry["contribution"] <= 0:
            continue
        fact = (
            "no records with credit bureaus and no previous loans or applications"
            if code == NO_CREDIT_HISTORY
            else "no records of this kind were found for the applicant"
        )
        out.append(_reason(code, "no_history", entry["text"], fact, entry))
    return out


def _not_provided_reason(entry: Mapping[str, Any]) -> dict[str, Any]:
    labels: list[str] = []
    for column in entry.get("inputs") or entry["features"]:
        label = COLUMN_LABELS.get(column, _words(column))
        if label not in labels:
            labels.append(label)
    shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
    text = f"Information not provided: {shown}"
    fact = "these were left out of the application; the score could not use them"
    return _reason(NOT_PROVIDED, "not_provided", text, fact, entry)


def _reason(
    code: str, family: str, text: str, fact: str, entry: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "code": code,
        "family": family,
        "text": text,
        "fact": fact,
        "detail": fact,
        "contribution": round(float(entry["contribution"]), 6),
        "features": list(entry["features"]),
    }


def _words(feature: str) -> str:
    text = feature.replace("_", " ").lower()
    return text[:1].upper() + text[1:]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
