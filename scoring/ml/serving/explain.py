"""Exact SHAP explanations of the calibrated ensemble, in logit space.

The served score is ``L(x) = a * (b + sum_m w_m f_m(x)) + c``: base models' raw margins
``f_m``, meta-learner weights ``w_m`` and intercept ``b``, Platt slope ``a`` and intercept
``c``. TreeSHAP gives each model ``f_m(x) = phi0_m + sum_j phi_mj(x)``. Because ``L`` is
affine in the ``f_m``, the ensemble's contributions and base value are

    contribution_j = a * sum_m w_m phi_mj(x)
    base_value     = a * (b + sum_m w_m phi0_m) + c

and ``base_value + sum_j contribution_j == L(x)`` exactly: the calibration map is folded
into the weights rather than approximated. ``sigmoid(L)`` is the probability of default.
(In probability space SHAP values would not add up; logit space is where they are exact.)

:mod:`scoring.ml.serving.forest` computes all three models' TreeSHAP in one compiled pass;
:func:`native_contributions` does the same combination from the libraries' own
``pred_contrib`` / ``pred_contribs`` / ``ShapValues``, for cross-checks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.ml.features.base import FeatureKind, FeatureSpec
from scoring.ml.features.families import (
    NO_HISTORY_KEY,
    NOT_PROVIDED_KEY,
    explanation_key,
    family_of,
)
from scoring.ml.probability import sigmoid
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.age_rule import AGE_KEY, AGE_RULE_ITEM
from scoring.ml.training.learners import LEARNERS


@dataclass
class Explanation:
    """Contributions of every feature for each row, in calibrated-logit units."""

    feature_names: list[str]
    base_value: float
    logit: np.ndarray  # (rows,) the calibrated logit the contributions add up to
    contributions: np.ndarray  # (rows, features)
    values: np.ndarray  # (rows, features) the feature values explained

    @property
    def probability(self) -> np.ndarray:
        return sigmoid(self.logit)

    def additivity_error(self) -> float:
        """Largest |base + sum(contributions) - logit| over the rows (float64 round-off)."""
        return float(np.max(np.abs(self.base_value + self.contributions.sum(axis=1) - self.logit)))


#: Whether a contribution is about data the applicant gave (see `FeatureGroups.statuses`).
GIVEN, NOT_PROVIDED, NO_HISTORY = 0, 1, 2
STATUS_NAMES = ("given", "not_provided", "no_history")


@dataclass
class ExplainedRow:
    """One applicant's grouped explanation, kept as arrays over the groups.

    A decision needs its reasons, its family totals and its largest items; building a dict
    for each of ~650 groups of every applicant was most of a batch chunk's time, so the
    items are built only when asked (:meth:`items`). The age rule's item, when the rule
    took something off, comes after the groups.
    """

    groups: FeatureGroups
    contributions: np.ndarray  # (groups,) float64, calibrated-logit units
    values: list[Any]  # (groups,) the applicant's value, as shown (None: missing)
    status: np.ndarray  # (groups,) GIVEN / NOT_PROVIDED / NO_HISTORY
    sent: frozenset[str]  # the application columns the applicant gave
    age_rule: float  # what the age rule took off the logit (0: nothing)
    feature_row: np.ndarray  # (features,) float32: the model row explained

    @functools.cached_property
    def order(self) -> np.ndarray:
        """The groups, largest magnitude first (stable: ties keep the groups' order)."""
        return np.argsort(-np.abs(self.contributions), kind="stable")

    def item(self, g: int) -> dict[str, Any]:
        groups = self.groups
        status = STATUS_NAMES[self.status[g]]
        out = {
            "feature": groups.names[g],
            "family": groups.families[g],
            "value": self.values[g],
            "contribution": float(self.contributions[g]),
            "status": status,
        }
        if status == "not_provided":
            out["missing"] = sorted(groups.columns[g] - self.sent)
        elif status == "no_history":
            out["absent"] = list(groups.sorted_tables[g])
        return out

    def age_rule_item(self) -> dict[str, Any] | None:
        if self.age_rule <= 0:
            return None
        return {
            "feature": AGE_RULE_ITEM,
            "family": AGE_KEY,
            "value": None,
            "contribution": -self.age_rule,
            "status": "given",
        }

    def items(self) -> list[dict[str, Any]]:
        """Every group's item (feature, family, value, contribution, status, and what is
        missing or absent), largest magnitude first, then the age rule's item:
        ``base_value + sum(contribution) == logit``."""
        out = [self.item(g) for g in self.order.tolist()]
        rule = self.age_rule_item()
        return [*out, rule] if rule else out

    def largest(self, k: int) -> list[dict[str, Any]]:
        """The ``k`` items of largest magnitude, the age rule's among them when it is."""
        out = [self.item(g) for g in self.order[:k].tolist()]
        rule = self.age_rule_item()
        if rule:
            # After the groups of equal magnitude, as a stable sort of `items` puts it.
            at = sum(1 for item in out if abs(item["contribution"]) >= self.age_rule)
            out.insert(at, rule)
        return out[:k]

    def rising(self, k: int, minimum: float = 1e-9) -> list[dict[str, Any]]:
        """:func:`top_risk_factors` of :meth:`items`, without building the other items."""
        c = self.contributions
        rising = self.order[c[self.order] > minimum]
        chosen = rising[np.argsort(-c[rising], kind="stable")][:k]
        return [self.item(g) for g in chosen.tolist()]

    def family_totals(self) -> dict[str, float]:
        """Each explanation key's summed contribution (`explanation_key`: the family, or the
        not-provided or no-history bucket), in the order of :meth:`items`; with the base
        value they add up to the logit. Summed in item order, like :func:`family_totals`,
        so the two give the same bits."""
        groups = self.groups
        keys, index_of_key = groups.key_index
        order = self.order
        status = self.status[order]
        index = np.where(
            status == GIVEN,
            index_of_key[order],
            np.where(status == NOT_PROVIDED, len(keys) - 2, len(keys) - 1),
        )
        sums = np.bincount(index, weights=self.contributions[order], minlength=len(keys))
        totals = {keys[i]: float(sums[i]) for i in in_order_of_appearance(index)}
        if self.age_rule > 0:
            totals[AGE_KEY] = totals.get(AGE_KEY, 0.0) - self.age_rule
        return totals


def in_order_of_appearance(keys: np.ndarray) -> list[int]:
    """The distinct values of ``keys`` in the order they first appear (as a dict built item
    by item would hold them)."""
    _, first = np.unique(keys, return_index=True)
    return keys[np.sort(first)].tolist()


def family_totals(contributions: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each explanation key's summed contribution over explanation items (dicts), in their
    order (a stored decision's list; :meth:`ExplainedRow.family_totals` for a fresh one)."""
    sums: dict[str, float] = {}
    for item in contributions:
        key = explanation_key(item)
        sums[key] = sums.get(key, 0.0) + float(item["contribution"])
    return sums


class FeatureGroups:
    """Maps model features to the readable names an explanation shows, and each to its family.

    A categorical column's code and one-hot features are one group named after the column
    (``NAME_INCOME_TYPE``), shown with the applicant's category; every other feature is its
    own group shown with its value. Grouping sums contributions, so they still add up. The
    families themselves are defined in :mod:`scoring.ml.features.families`.
    """

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.specs = list(specs)
        names: list[str] = []
        index: dict[str, int] = {}
        self.group_of = np.zeros(len(specs), dtype=np.int64)
        self._display: list[tuple[int, tuple[str, ...]] | None] = []
        for i, spec in enumerate(specs):
            if spec.group not in index:
                index[spec.group] = len(names)
                names.append(spec.group)
                self._display.append(None)
            g = index[spec.group]
            self.group_of[i] = g
            if spec.kind is FeatureKind.CATEGORY_CODE:
                self._display[g] = (i, spec.vocabulary)
            elif self._display[g] is None and spec.kind is not FeatureKind.ONE_HOT:
                self._display[g] = (i, ())
        self.names = names
        inputs: list[set[str]] = [set() for _ in names]
        for spec in specs:
            inputs[index[spec.group]].update(spec.inputs)
        #: Each group's application columns and history tables: what must have been given
        #: for its contribution to be about the applicant rather than about absent data.
        self.columns = [frozenset(i - set(HISTORY_TABLES)) for i in inputs]
        self.tables = [frozenset(i & set(HISTORY_TABLES)) for i in inputs]
        #: Each group's family key (`scoring.ml.features.families`); None: never named.
        self.families = [
            family.key if (family := family_of(name, tuple(sorted(i)))) is not None else None
            for name, i in zip(names, inputs, strict=True)
        ]
        self.descriptions = [""] * len(names)
        for spec in specs:
            g = index[spec.group]
            if not self.descriptions[g] or spec.kind is FeatureKind.CATEGORY_CODE:
                self.descriptions[g] = (
                    f"category of {spec.group}"
                    if spec.kind is FeatureKind.CATEGORY_CODE
                    else spec.description
                )

    def sums(self, contributions: np.ndarray) -> np.ndarray:
        """Contributions summed per group: (rows, groups), in float64.

        A segment sum over the features ordered by group, not a product with a 0/1 matrix:
        the (1 x 721) @ (721 x groups) product went to BLAS, whose threads took 25 ms a call
        on two busy cores (cProfile of the sync path), against microseconds here.
        """
        order, starts = self._segments
        values = np.atleast_2d(np.asarray(contributions, dtype=np.float64))
        return np.add.reduceat(values[:, order], starts, axis=1)

    @functools.cached_property
    def _segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Features in group order, and where each group starts (every group has one)."""
        order = np.argsort(self.group_of, kind="stable")
        starts = np.searchsorted(self.group_of[order], np.arange(len(self.names)))
        return order, starts

    def _shown_values(self, values: np.ndarray) -> tuple[list[list[Any]], np.ndarray]:
        """Each row's value per group (category labels, numbers, None), all rows at once, and
        where the value is None."""
        columns = [shown[0] if shown else 0 for shown in self._display]
        raw = np.asarray(values, dtype=np.float64)[:, columns]
        missing = np.isnan(raw)
        shown = raw.astype(object)
        shown[missing] = None
        for g, display in enumerate(self._display):
            if display is None:
                shown[:, g] = None
                missing[:, g] = True
            elif display[1]:
                vocabulary = display[1]
                labels = [
                    vocabulary[int(code)] if code == code and 0 <= code < len(vocabulary) else None
                    for code in raw[:, g]
                ]
                shown[:, g] = labels
                missing[:, g] = [label is None for label in labels]
        return shown.tolist(), missing

    def rows(self, explanation: Explanation, row: int = 0) -> list[dict[str, Any]]:
        """One row's grouped contributions, largest magnitude first.

        Each item: ``feature`` (readable name), ``family``, ``value`` (the applicant's value)
        and ``contribution`` (calibrated-logit units; > 0 raises the risk).
        """
        sums = self.sums(explanation.contributions[row : row + 1])[0]
        shown, _ = self._shown_values(explanation.values[row : row + 1])
        return [
            {
                "feature": self.names[g],
                "family": self.families[g],
                "value": shown[0][g],
                "contribution": float(sums[g]),
            }
            for g in np.argsort(-np.abs(sums), kind="stable").tolist()
        ]

    def explained_rows(
        self,
        explanation: Explanation,
        applications: Sequence[Mapping[str, Any]],
        history_rows: Sequence[Mapping[str, int]],
        age_rule: np.ndarray,
    ) -> list[ExplainedRow]:
        """Each row's grouped explanation as arrays (:class:`ExplainedRow`): contributions,
        shown values and, for each group, whether it is about data the applicant gave.
        ``age_rule`` is what the age rule took off each row's logit."""
        sums = self.sums(explanation.contributions)
        shown, missing = self._shown_values(explanation.values)
        out = []
        for r, application in enumerate(applications):
            sent = frozenset(k for k, v in application.items() if v is not None and v == v)
            present = {table for table, count in history_rows[r].items() if count}
            out.append(
                ExplainedRow(
                    groups=self,
                    contributions=sums[r],
                    values=shown[r],
                    status=self.statuses(missing[r], sent, present),
                    sent=sent,
                    age_rule=float(age_rule[r]),
                    feature_row=np.asarray(explanation.values[r], dtype=np.float32),
                )
            )
        return out

    def statuses(
        self, value_missing: np.ndarray, sent: frozenset[str], present: set[str]
    ) -> np.ndarray:
        """Whether each group's contribution is about data the applicant gave: GIVEN,
        NOT_PROVIDED (none of its application inputs was sent, its value is missing, or it
        counts missing inputs) or NO_HISTORY (the applicant has no rows in any of its history
        tables). Only GIVEN contributions may carry a reason about creditworthiness.

        Array arithmetic over all groups at once: per item in Python it was a third of a
        batch chunk's time (cProfile, 650 groups per applicant)."""
        position, by_column, has_columns, has_tables, table_bits, counts_nulls = self._inputs
        sent_columns = np.zeros(len(position), dtype=bool)
        sent_columns[[position[c] for c in sent if c in position]] = True
        any_sent = (by_column & sent_columns).any(axis=1)
        all_sent = ~(by_column & ~sent_columns).any(axis=1)
        present_bits = sum(1 << HISTORY_TABLES.index(t) for t in present if t in HISTORY_TABLES)
        no_history = has_tables & ((table_bits & present_bits) == 0)
        not_provided = (
            ~no_history
            & has_columns
            & ~has_tables
            & (value_missing | ~any_sent | (counts_nulls & ~all_sent))
        )
        return np.where(no_history, NO_HISTORY, np.where(not_provided, NOT_PROVIDED, GIVEN)).astype(
            np.int8
        )

    @functools.cached_property
    def _inputs(
        self,
    ) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What :meth:`statuses` tests, per group: its application columns (groups x columns),
        whether it has columns and history tables, its tables as bits, whether it counts
        missing inputs (``*_NULLS``)."""
        vocabulary = sorted(set().union(*self.columns))
        position = {column: i for i, column in enumerate(vocabulary)}
        by_column = np.zeros((len(self.names), len(vocabulary)), dtype=bool)
        for g, columns in enumerate(self.columns):
            by_column[g, [position[c] for c in columns]] = True
        table_bits = np.array(
            [sum(1 << HISTORY_TABLES.index(t) for t in tables) for tables in self.tables],
            dtype=np.int64,
        )
        return (
            position,
            by_column,
            by_column.any(axis=1),
            table_bits != 0,
            table_bits,
            np.array([name.endswith("_NULLS") for name in self.names]),
        )

    @functools.cached_property
    def given_keys(self) -> list[str]:
        """The explanation key each group is shown under when it is about given data."""
        return [
            explanation_key({"feature": name, "family": family, "status": "given"})
            for name, family in zip(self.names, self.families, strict=True)
        ]

    @functools.cached_property
    def key_index(self) -> tuple[list[str], np.ndarray]:
        """The explanation keys (the given keys, then the two buckets) and each group's
        position among them."""
        keys = list(dict.fromkeys(self.given_keys))
        keys += [NOT_PROVIDED_KEY, NO_HISTORY_KEY]
        position = {key: i for i, key in enumerate(keys)}
        return keys, np.array([position[key] for key in self.given_keys], dtype=np.int64)

    @functools.cached_property
    def sorted_tables(self) -> list[tuple[str, ...]]:
        return [tuple(sorted(tables)) for tables in self.tables]

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {name: g for g, name in enumerate(self.names)}

    def describe(self, feature: str) -> str:
        if feature == AGE_RULE_ITEM:
            return "age rule: age may not count against an applicant aged 62 or over"
        return self.descriptions[self._index[feature]]


def top_risk_factors(
    contributions: Sequence[dict[str, Any]], k: int = 5, minimum: float = 1e-9
) -> list[dict[str, Any]]:
    """The ``k`` groups that raise the risk most (positive contributions), largest first.

    The input is :meth:`FeatureGroups.rows` output; these are what plain-language reasons
    (an adverse-action notice) are written from.
    """
    rising = [c for c in contributions if c["contribution"] > minimum]
    rising.sort(key=lambda c: -c["contribution"])
    return rising[:k]


def native_contributions(
    models: dict[str, Any],
    weights: dict[str, float],
    intercept: float,
    slope: float,
    calibration_intercept: float,
    X: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The same ensemble SHAP from the libraries' own TreeSHAP: (base per row, contributions).

    Slow for single rows (see :mod:`scoring.ml.serving.forest`), kept as the reference.
    """
    X = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float32)
    p = X.shape[1]
    total = np.zeros((X.shape[0], p + 1))
    for library, model in models.items():
        total += weights[library] * LEARNERS[library].native_contributions(model, X)
    contributions = slope * total[:, :p]
    base = slope * (intercept + total[:, p]) + calibration_intercept
    return base, contributions


def family_points(
    totals: Mapping[str, float], *, base_value: float, logit: float
) -> list[dict[str, Any]]:
    """Each family's effect in percentage points of PD, adding up to PD minus base PD.

    ``totals`` are the contributions summed as the reasons group them
    (`families.explanation_key`; :func:`family_totals`): by family, with inputs not sent
    and absent history in buckets of their own.

    SHAP is exact in logit space, where the families' contributions ``phi_f`` add up to
    ``logit - base_value``. The path from the base to the applicant's logit is a straight
    line; along it the PD rises by ``sigmoid(logit) - sigmoid(base)``, and each family is
    given its share of that rise in proportion to how far it moved the logit:

        points_f = 100 * phi_f * (sigmoid(logit) - sigmoid(base)) / (logit - base)

    The factor is the sigmoid's mean slope along the path (its slope at the base when the
    two coincide), so it is finite and positive: a family keeps the sign of its effect and
    the points add up to the PD change exactly (to float rounding). Largest first.
    """
    slope = mean_slope(base_value, logit)
    rows = [
        {"family": family, "contribution": total, "points": 100.0 * total * slope}
        for family, total in totals.items()
    ]
    rows.sort(key=lambda row: -abs(row["points"]))
    return rows


def mean_slope(base_value: float, logit: float) -> float:
    """(sigmoid(logit) - sigmoid(base)) / (logit - base); the derivative at a tiny gap."""
    gap = logit - base_value
    if abs(gap) < 1e-9:
        p = float(sigmoid(np.asarray([base_value]))[0])
        return p * (1.0 - p)
    both = sigmoid(np.asarray([logit, base_value], dtype=np.float64))
    return float((both[0] - both[1]) / gap)
