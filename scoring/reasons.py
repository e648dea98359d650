"""Plain-language reasons for a decision: what raised the risk, each true of the applicant.

Pure functions over a score's contributions (logit space; each carries its ``family`` and
``status``, see `scoring.ml.serving.explain.FeatureGroups.statuses`). The families are
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
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.ml.features.families import BY_CODE, COLUMN_LABELS, Family, family_of
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving import explain
from scoring.ml.serving.age_rule import AGE_KEY, AGE_RULE_ITEM
from scoring.ml.serving.explain import ExplainedRow, FeatureGroups, in_order_of_appearance

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
    """Up to `limit` true reasons that raised the risk most, strongest first, from
    explanation items (dicts with ``feature``, ``family``, ``value``, ``contribution``,
    ``status`` and what is ``missing`` or ``absent``).

    Each reason is ``{"code", "family", "text", "fact", "detail", "contribution",
    "features"}`` (``detail`` repeats ``fact`` for older readers); a directional one also
    carries its ``measure`` (feature, value, adverse side, share on the other side).
    ``history_rows`` is the applicant's row count per history table, ``measures`` the
    directional measures as the scorer placed them (`ScoreResult.measures`).
    """
    items = list(contributions)
    history_rows = dict(history_rows or {})
    any_history = _any_history(history_rows)
    features = np.array([str(item.get("feature", "")) for item in items], dtype=object)
    numbers = [_number(item.get("contribution")) for item in items]
    table = _Items(
        features=features,
        families=np.array([_family_position(item) for item in items], dtype=np.int64).reshape(-1),
        status=np.array(
            [_STATUS.get(item.get("status", "given"), explain.GIVEN) for item in items],
            dtype=np.int8,
        ).reshape(-1),
        contributions=np.array(
            [math.nan if n is None else n for n in numbers], dtype=np.float64
        ).reshape(-1),
        values=[item.get("value") for item in items],
        missing=lambda i: items[i].get("missing"),
        stories=lambda positions: np.array(
            [
                _STORY_INDEX[_absent_story(features[i], items[i].get("absent") or (), any_history)]
                for i in positions.tolist()
            ],
            dtype=np.int64,
        ),
    )
    return _reasons(table, history_rows, measures or {}, limit)


def reasons_for_explained(
    explained: ExplainedRow,
    *,
    history_rows: Mapping[str, int] | None = None,
    measures: Mapping[str, Mapping[str, Any]] | None = None,
    limit: int = DEFAULT_REASON_COUNT,
) -> list[dict[str, Any]]:
    """:func:`reasons_for` of a fresh score's explanation, read from its arrays: the same
    reasons as ``reasons_for(explained.items(), ...)`` without building ~650 items per
    applicant (which was a third of a batch chunk's time)."""
    history_rows = dict(history_rows or {})
    any_history = _any_history(history_rows)
    static = _group_positions(explained.groups)
    order = explained.order
    features = static.names[order]
    families = static.families[order]
    status = explained.status[order]
    contributions = explained.contributions[order]
    values: Sequence[Any] = _Reordered(explained.values, order)
    if explained.age_rule > 0:
        features = np.append(features, AGE_RULE_ITEM)
        families = np.append(families, static.age_rule_family)
        status = np.append(status, np.int8(explain.GIVEN))
        contributions = np.append(contributions, -explained.age_rule)
        values = _Reordered([*explained.values, None], np.append(order, len(explained.values)))
    columns, sent = explained.groups.columns, explained.sent
    table = _Items(
        features=features,
        families=families,
        status=status,
        contributions=contributions,
        values=values,
        missing=lambda i: sorted(columns[order[i]] - sent),
        stories=lambda positions: (
            static.stories[order[positions]]
            if any_history
            else np.zeros(len(positions), dtype=np.int64)  # NO_CREDIT_HISTORY
        ),
    )
    return _reasons(table, history_rows, measures or {}, limit)


@dataclass(frozen=True)
class _Items:
    """Explanation items as arrays, in item order: what `_reasons` reads."""

    features: np.ndarray  # object: each item's feature
    families: np.ndarray  # each item's family, a position in _FAMILIES (-1: never named)
    status: np.ndarray  # explain.GIVEN / NOT_PROVIDED / NO_HISTORY
    contributions: np.ndarray  # float64; NaN: not a number, skipped
    values: Sequence[Any]  # each item's value, as shown
    missing: Callable[[int], Sequence[str] | None]  # a not-provided item's missing inputs
    stories: Callable[[np.ndarray], np.ndarray]  # no-history items' positions in _STORIES


def _reasons(
    items: _Items,
    history_rows: Mapping[str, int],
    measures: Mapping[str, Mapping[str, Any]],
    limit: int,
) -> list[dict[str, Any]]:
    """The reasons of explanation items. Every total is summed in item order, one item
    after another (`np.bincount`), so it is the same float whichever way the items came."""
    c = items.contributions
    named = (items.families >= 0) & np.isfinite(c)
    rising = c > 0
    candidates: list[dict[str, Any]] = []

    given = np.flatnonzero(named & (items.status == explain.GIVEN))
    families = items.families[given]
    totals = np.bincount(families, weights=c[given], minlength=len(_FAMILIES))
    for f in in_order_of_appearance(families):
        if totals[f] <= 0:
            continue
        chosen = given[(families == f) & rising[given]].tolist()
        features = items.features[chosen].tolist()
        entry = {
            "family": _FAMILIES[f],
            "contribution": float(totals[f]),
            "features": features,
            "values": [
                (feature, items.values[i]) for feature, i in zip(features, chosen, strict=True)
            ],
        }
        if reason := _family_reason(entry, history_rows, measures):
            candidates.append(reason)

    lacking = np.flatnonzero(named & (items.status == explain.NO_HISTORY))
    stories = items.stories(lacking)
    story_totals = np.bincount(stories, weights=c[lacking], minlength=len(_STORIES))
    absent: dict[str, dict[str, Any]] = {}
    for story in in_order_of_appearance(stories):
        code, text = _STORIES[story]
        chosen = lacking[(stories == story) & rising[lacking]]
        absent[code] = {
            "text": text,
            "contribution": float(story_totals[story]),
            "features": items.features[chosen].tolist(),
        }
    candidates += _absent_reasons(absent, history_rows)

    unsent = np.flatnonzero(named & (items.status == explain.NOT_PROVIDED))
    # One after another (cumsum), as the bincounts above sum: np.sum would pair them up.
    total = float(np.cumsum(c[unsent])[-1]) if len(unsent) else 0.0
    if total > 0:
        chosen = unsent[rising[unsent]].tolist()
        features = items.features[chosen].tolist()
        entry: dict[str, Any] = {"contribution": total, "features": features}
        if chosen:
            entry["inputs"] = [
                name
                for i, feature in zip(chosen, features, strict=True)
                for name in (items.missing(i) or [feature])
            ]
        candidates.append(_not_provided_reason(entry))
    candidates.sort(key=lambda r: r["contribution"], reverse=True)
    return candidates[:limit]


class _Reordered(Sequence):
    """``values[order[i]]`` without copying ``values``."""

    def __init__(self, values: Sequence[Any], order: np.ndarray) -> None:
        self._values, self._order = values, order

    def __getitem__(self, i):  # type: ignore[override]
        return self._values[self._order[i]]

    def __len__(self) -> int:
        return len(self._order)


@dataclass(frozen=True)
class _GroupPositions:
    names: np.ndarray  # object: each group's feature name
    families: np.ndarray  # each group's family (a position in _FAMILIES; -1: never named)
    stories: np.ndarray  # each group's absent-history story when the applicant has history
    age_rule_family: int


_BY_GROUPS: weakref.WeakKeyDictionary[FeatureGroups, _GroupPositions] = weakref.WeakKeyDictionary()


def _group_positions(groups: FeatureGroups) -> _GroupPositions:
    """What the reasons read of each group, worked out once per loaded model."""
    found = _BY_GROUPS.get(groups)
    if found is None:
        names = groups.names
        found = _GroupPositions(
            names=np.array(names, dtype=object),
            families=np.array(
                [
                    _family_position({"feature": name, "family": family})
                    for name, family in zip(names, groups.families, strict=True)
                ],
                dtype=np.int64,
            ),
            stories=np.array(
                [
                    _STORY_INDEX[_absent_story(name, tables, True)]
                    for name, tables in zip(names, groups.sorted_tables, strict=True)
                ],
                dtype=np.int64,
            ),
            age_rule_family=_family_position({"feature": AGE_RULE_ITEM, "family": AGE_KEY}),
        )
        _BY_GROUPS[groups] = found
    return found


def _any_history(history_rows: Mapping[str, int]) -> bool:
    return any(history_rows.get(t, 0) for t in HISTORY_TABLES)


def _family_position(item: Mapping[str, Any]) -> int:
    family = _family(item)
    return -1 if family is None else _FAMILY_POSITION[family.code]


_FAMILIES: list[Family] = list(BY_CODE.values())
_FAMILY_POSITION = {family.code: i for i, family in enumerate(_FAMILIES)}
_STATUS = {
    "given": explain.GIVEN,
    "not_provided": explain.NOT_PROVIDED,
    "no_history": explain.NO_HISTORY,
}
#: Every story `_absent_story` tells, NO_CREDIT_HISTORY first.
_STORIES: list[tuple[str, str]] = list(
    dict.fromkeys(
        [
            (NO_CREDIT_HISTORY, "No credit history"),
            *_ABSENT_HISTORY.values(),
            ("NO_HISTORY_PART", "Part of the credit history is not on record"),
        ]
    )
)
_STORY_INDEX = {story: i for i, story in enumerate(_STORIES)}


# --- the pieces ------------------------------------------------------------------------------


def _family(item: Mapping[str, Any]) -> Family | None:
    feature = str(item.get("feature", ""))
    if family_of(feature) is None:  # never named, whatever a stored row says
        return None
    key = item.get("family")
    if key:
        return BY_CODE.get(str(key).upper())
    return family_of(feature)


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
    if feature.startswith("DAYS_") and isinstance(value, int | float) and value <= 0:
        # Kaggle counts days backwards from the application ("ID document issued: -4,415").
        return f"{label}: {-value:,.0f} days ago"
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
