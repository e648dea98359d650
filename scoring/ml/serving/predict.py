"""Scoring with a verified bundle: probabilities, logits and exact explanations.

A :class:`Scorer` is built once per process from a bundle (``Scorer.from_bundle(path)``)
and then reused: the three models' trees are compiled into one
:class:`scoring.ml.serving.forest.Forest` whose weights already include the meta-learner and the
Platt calibration, so one pass gives the calibrated logit and, when asked, its exact SHAP
decomposition. Nothing in the hot path builds a pandas frame or reloads a model.

    scorer = Scorer.from_bundle(path)
    result = scorer.score_one({"AMT_INCOME_TOTAL": 180000, ...}, history={"bureau": [...]})
    result.probability_of_default, result.base_value, result.contributions
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.ml.features.build import (
    FEATURE_VERSION,
    FeatureSet,
    build_features,
    selected_specs,
)
from scoring.ml.probability import sigmoid
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import Bundle, BundleError, load_bundle
from scoring.ml.serving.explain import Explanation, FeatureGroups, top_risk_factors
from scoring.ml.serving.forest import Forest
from scoring.ml.training.learners import BASE_MODELS, LEARNERS

#: Stands in for SK_ID_CURR when one applicant without an id is scored: it only links the
#: applicant's own history rows to the application row.
ONLINE_CLIENT_ID = 0


@dataclass
class ScoreResult:
    """One applicant's score and its explanation (calibrated-logit units)."""

    probability_of_default: float
    logit: float
    base_value: float
    #: Every readable feature: {"feature", "value", "contribution"}, largest |c| first;
    #: base_value + sum(contribution) == logit.
    contributions: list[dict[str, Any]]
    #: The contributions that raise the risk most, for plain-language reasons.
    top_risk_factors: list[dict[str, Any]]
    model_version: str
    features: dict[str, float | None] = field(default_factory=dict, repr=False)


class Scorer:
    """Serving-time view of one bundle."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.version = bundle.version
        spec = bundle.features
        self.excluded: tuple[str, ...] = tuple(spec["excluded"])
        self.specs = selected_specs(self.excluded)
        self.feature_names = [s.name for s in self.specs]
        if spec.get("feature_version") != FEATURE_VERSION or spec["names"] != self.feature_names:
            raise BundleError(
                f"bundle {bundle.version} was built with feature version "
                f"{spec.get('feature_version')!r} ({len(spec['names'])} features); this code "
                f"builds version {FEATURE_VERSION!r} ({len(self.feature_names)} features): "
                "retrain the model"
            )
        ensemble = bundle.ensemble
        self.meta_weights = {m: float(ensemble["meta_weights"][m]) for m in BASE_MODELS}
        self.meta_intercept = float(ensemble["meta_intercept"])
        self.slope = float(ensemble["calibration"]["slope"])
        self.calibration_intercept = float(ensemble["calibration"]["intercept"])
        self.forest = Forest(
            [LEARNERS[m].trees(bundle.native_model(m)) for m in BASE_MODELS],
            # The calibration is affine in the stacked logit: fold it into the weights.
            [self.slope * self.meta_weights[m] for m in BASE_MODELS],
            n_features=len(self.feature_names),
            bias=self.slope * self.meta_intercept + self.calibration_intercept,
        )
        self.groups = FeatureGroups(self.specs)
        self.base_value = self.forest.expected_value

    @classmethod
    def from_bundle(
        cls, path: str | Path, *, expected_manifest_sha256: str | None = None
    ) -> Scorer:
        """Load, verify and compile the bundle at ``path``."""
        return cls(load_bundle(path, expected_manifest_sha256=expected_manifest_sha256))

    # --- matrices -------------------------------------------------------------------------

    def logit(self, X: np.ndarray) -> np.ndarray:
        """Calibrated logit of each row of the model matrix."""
        return self.forest.predict(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probability of default of each row of the model matrix."""
        return sigmoid(self.forest.predict(X))

    def base_margins(self, X: np.ndarray) -> np.ndarray:
        """Each base model's raw margin (rows x lightgbm, xgboost, catboost)."""
        return self.forest.predict_margins(X)

    def explain(self, X: np.ndarray) -> Explanation:
        """Exact SHAP contributions of the calibrated logit for each row."""
        contributions, logit = self.forest.shap(X)
        return Explanation(
            feature_names=self.feature_names,
            base_value=self.base_value,
            logit=logit,
            contributions=contributions,
            values=np.atleast_2d(np.asarray(X, dtype=np.float32)),
        )

    # --- applications ---------------------------------------------------------------------

    def features(self, applications: Any, history: Mapping[str, Any] | None = None) -> FeatureSet:
        """The model matrix of application rows (the shared feature code, this bundle's
        exclusions)."""
        return build_features(applications, history, exclude=self.excluded)

    def score(self, applications: Any, history: Mapping[str, Any] | None = None) -> np.ndarray:
        """Probabilities of default for many applications at once (batch scoring)."""
        return self.predict(self.features(applications, history).X)

    def score_one(
        self,
        application: Mapping[str, Any],
        history: Mapping[str, Any] | None = None,
        *,
        top: int = 5,
    ) -> ScoreResult:
        """Score and explain one applicant.

        ``application`` maps Kaggle application columns to values. ``history`` maps history
        table names to that applicant's rows (lists of records or DataFrames); absent
        tables count as empty. All rows given are taken to be this applicant's: their
        SK_ID_CURR is set to the application's (or a placeholder).
        """
        row, tables = _one_applicant(application, history)
        X = self.features([row], tables).X
        explanation = self.explain(X)
        result = self._results(explanation, top)[0]
        result.features = {
            n: (None if np.isnan(v) else float(v))
            for n, v in zip(self.feature_names, X[0], strict=True)
        }
        return result

    def score_many(
        self,
        applications: Sequence[Mapping[str, Any]],
        histories: Sequence[Mapping[str, Any] | None],
        *,
        top: int = 5,
    ) -> list[ScoreResult]:
        """Score and explain many applicants in one feature build and one SHAP pass.

        Each applicant is given like :meth:`score_one` (its own history or None) and gets
        exactly the result :meth:`score_one` would give: the applicants are numbered apart,
        and their bureau ids too, so no applicant's history can reach another's row.
        """
        rows: list[dict[str, Any]] = []
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in HISTORY_TABLES}
        for number, (application, history) in enumerate(
            zip(applications, histories, strict=True), start=1
        ):
            row, own = _one_applicant({**application, "SK_ID_CURR": number}, history)
            rows.append(row)
            bureau_ids: dict[Any, int] = {}
            for name, records in own.items():
                if name in ("bureau", "bureau_balance"):
                    records = [_renumbered_bureau(r, bureau_ids, number) for r in records]
                tables[name].extend(records)
        if not rows:
            return []
        X = self.features(rows, {k: v for k, v in tables.items() if v}).X
        return self._results(self.explain(X), top)

    def _results(self, explanation: Explanation, top: int) -> list[ScoreResult]:
        """One result per explained row, its contributions grouped to readable features."""
        return [
            ScoreResult(
                probability_of_default=float(explanation.probability[i]),
                logit=float(explanation.logit[i]),
                base_value=float(explanation.base_value),
                contributions=contributions,
                top_risk_factors=[
                    {**c, "description": self.groups.describe(c["feature"])}
                    for c in top_risk_factors(contributions, top)
                ],
                model_version=self.version,
            )
            for i, contributions in enumerate(self.groups.rows_many(explanation))
        ]


def _renumbered_bureau(record: dict[str, Any], ids: dict[Any, int], number: int) -> dict[str, Any]:
    """``SK_ID_BUREAU`` made unique across a batch (applicant ``number``, then its own id)."""
    old = record.get("SK_ID_BUREAU")
    if old is None or (isinstance(old, float) and np.isnan(old)):
        return record
    new = ids.setdefault(old, number * 1_000_000 + len(ids))
    return {**record, "SK_ID_BUREAU": new}


def _one_applicant(
    application: Mapping[str, Any], history: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The applicant's row and history as records, all linked to one SK_ID_CURR."""
    row = dict(application)
    client = row.get("SK_ID_CURR")
    if client is None or (isinstance(client, float) and np.isnan(client)):
        client = ONLINE_CLIENT_ID
    row["SK_ID_CURR"] = int(client)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in HISTORY_TABLES:
        rows = (history or {}).get(name)
        if rows is None:
            continue
        records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else copy.copy(rows)
        if name != "bureau_balance":  # linked through SK_ID_BUREAU instead
            records = [{**r, "SK_ID_CURR": row["SK_ID_CURR"]} for r in records]
        tables[name] = list(records)
    unknown = set(history or {}) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"unknown history tables: {sorted(unknown)}")
    return row, tables
