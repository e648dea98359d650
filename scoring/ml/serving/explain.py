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
from scoring.ml.features.families import explanation_key, family_of
from scoring.ml.probability import sigmoid
from scoring.ml.schema.tables import HISTORY_TABLES
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

    def _shown_values(self, values: np.ndarray) -> list[list[Any]]:
        """Each row's value per group (category labels, numbers, None), all rows at once."""
        columns = [shown[0] if shown else 0 for shown in self._display]
        raw = np.asarray(values, dtype=np.float64)[:, columns]
        shown = raw.astype(object)
        shown[np.isnan(raw)] = None
        for g, display in enumerate(self._display):
            if display is None:
                shown[:, g] = None
            elif display[1]:
                vocabulary = display[1]
                shown[:, g] = [
                    vocabulary[int(code)] if code == code and 0 <= code < len(vocabulary) else None
                    for code in raw[:, g]
                ]
        return shown.tolist()

    def rows(self, explanation: Explanation, row: int = 0) -> list[dict[str, Any]]:
        """One row's grouped contributions, largest magnitude first.

        Each item: ``feature`` (readable name), ``value`` (the applicant's value) and
        ``contribution`` (calibrated-logit units; > 0 raises the risk).
        """
        return self._rows(
            explanation.contributions[row : row + 1], explanation.values[row : row + 1]
        )[0]

    def rows_many(self, explanation: Explanation) -> list[list[dict[str, Any]]]:
        """:meth:`rows` of every row, computed together (batch scoring)."""
        return self._rows(explanation.contributions, explanation.values)

    def _rows(self, contributions: np.ndarray, values: np.ndarray) -> list[list[dict[str, Any]]]:
        sums = self.sums(contributions)
        orders = np.argsort(-np.abs(sums), axis=1, kind="stable")
        shown = self._shown_values(values)
        names = self.names
        families = self.families
        out = []
        for r in range(sums.shape[0]):
            total, value = sums[r].tolist(), shown[r]
            out.append(
                [
                    {
                        "feature": names[g],
                        "family": families[g],
                        "value": value[g],
                        "contribution": total[g],
                    }
                    for g in orders[r].tolist()
                ]
            )
        return out

    def mark_given(
        self,
        rows: list[dict[str, Any]],
        application: Mapping[str, Any],
        history_rows: Mapping[str, int],
    ) -> None:
        """Say of each contribution whether it is about data the applicant gave.

        ``status`` is ``given``, ``not_provided`` (none of its application inputs was sent,
        its value is missing, or it counts missing inputs) or ``no_history`` (the applicant
        has no rows in any of its history tables). Only ``given`` contributions may carry
        a reason about the applicant's creditworthiness.
        """
        index = self._index
        sent = {k for k, v in application.items() if v is not None and v == v}
        # Tables the applicant has rows in, once: a row has hundreds of items.
        present = {table for table, count in history_rows.items() if count}
        for item in rows:
            g = index[item["feature"]]
            columns, tables = self.columns[g], self.tables[g]
            if tables and tables.isdisjoint(present):
                status = "no_history"
            elif (
                columns
                and not tables
                and (
                    item["value"] is None
                    or not columns & sent
                    or (item["feature"].endswith("_NULLS") and not columns <= sent)
                )
            ):
                status = "not_provided"
            else:
                status = "given"
            item["status"] = status
            if status == "not_provided":
                item["missing"] = sorted(columns - sent)
            elif status == "no_history":
                item["absent"] = list(self._sorted_tables[g])

    @functools.cached_property
    def _sorted_tables(self) -> list[tuple[str, ...]]:
        return [tuple(sorted(tables)) for tables in self.tables]

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {name: g for g, name in enumerate(self.names)}

    def describe(self, feature: str) -> str:
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
    contributions: Sequence[Mapping[str, Any]], *, base_value: float, logit: float
) -> list[dict[str, Any]]:
    """Each family's effect in percentage points of PD, adding up to PD minus base PD.

    Contributions are grouped as the reasons group them (`families.explanation_key`):
    by family, with inputs not sent and absent history in buckets of their own.

    SHAP is exact in logit space, where the families' contributions ``phi_f`` add up to
    ``logit - base_value``. The path from the base to the applicant's logit is a straight
    line; along it the PD rises by ``sigmoid(logit) - sigmoid(base)``, and each family is
    given its share of that rise in proportion to how far it moved the logit:

        points_f = 100 * phi_f * (sigmoid(logit) - sigmoid(base)) / (logit - base)

    The factor is the sigmoid's mean slope along the path (its slope at the base when the
    two coincide), so it is finite and positive: a family keeps the sign of its effect and
    the points add up to the PD change exactly (to float rounding). Largest first.
    """
    sums: dict[str, float] = {}
    for item in contributions:
        family = explanation_key(item)
        sums[family] = sums.get(family, 0.0) + float(item["contribution"])
    slope = mean_slope(base_value, logit)
    rows = [
        {"family": family, "contribution": total, "points": 100.0 * total * slope}
        for family, total in sums.items()
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
