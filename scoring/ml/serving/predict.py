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

from scoring.ml.data.history_index import TableColumns
from scoring.ml.features.build import (
    FEATURE_VERSION,
    FeatureSet,
    build_features,
    selected_specs,
)
from scoring.ml.features.families import BY_CODE
from scoring.ml.features.single import history_values, one_applicant_row, variant_rows
from scoring.ml.probability import sigmoid
from scoring.ml.schema.contract import InputContract
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.age_rule import ages_in_years, neutralised_amounts, rule_applies
from scoring.ml.serving.bundle import Bundle, BundleError, load_bundle
from scoring.ml.serving.explain import ExplainedRow, Explanation, FeatureGroups
from scoring.ml.serving.forest import Forest
from scoring.ml.serving.reference import Reference
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
    #: The grouped explanation as arrays; `contributions` builds its items.
    explained: ExplainedRow = field(repr=False)
    model_version: str
    features: dict[str, float | None] = field(default_factory=dict, repr=False)
    #: Rows the applicant has in each history table (0: none; no-history items).
    history_rows: dict[str, int] = field(default_factory=dict)
    #: What the age rule took off the logit (an applicant aged 62+; else 0).
    age_neutralised: float = 0.0
    #: The directional families' measures: feature -> {"value", "adverse", "share"}, where
    #: ``share`` is the training population on the other side of the applicant's value, or
    #: None when the value is not on the adverse side of the median.
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: One applicant scored alone: its history's features (`history_values`), which a
    #: counteroffer search of the same applicant reuses instead of building them again.
    history_features: dict[str, float] | None = field(default=None, repr=False)

    @property
    def contributions(self) -> list[dict[str, Any]]:
        """Every readable feature: {"feature", "family", "value", "contribution", "status"},
        largest |c| first, then the age rule's item; base_value + sum(contribution) == logit."""
        return self.explained.items()

    @property
    def top_risk_factors(self) -> list[dict[str, Any]]:
        """The five contributions that raise the risk most, each with its description
        (built when asked: deciding reads the reasons instead)."""
        describe = self.explained.groups.describe
        return [{**c, "description": describe(c["feature"])} for c in self.explained.rising(5)]


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
        self.reference = Reference.from_json(bundle.reference)
        #: What this version requires of an application and the domain it was trained on.
        self.input_contract = InputContract.from_reference(bundle.reference, version=self.version)
        #: Measures of the directional families that this model's matrix holds.
        self._measures = [
            (m, self.feature_names.index(m.feature))
            for family in BY_CODE.values()
            for m in family.measures
            if m.feature in self.feature_names
        ]

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

    def features_one(
        self,
        application: Mapping[str, Any],
        history: Mapping[str, Any] | None = None,
        *,
        history_features: Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """One applicant's model row (1 x features) by the compiled numpy path: the same
        feature definitions as :meth:`features`, a few milliseconds instead of polars'
        per-query cost; the parity test holds the two equal."""
        return one_applicant_row(
            application, history, exclude=self.excluded, history_features=history_features
        )

    def score(self, applications: Any, history: Mapping[str, Any] | None = None) -> np.ndarray:
        """Probabilities of default for many applications at once (batch scoring)."""
        return self.predict(self.features(applications, history).X)

    def score_one(
        self,
        application: Mapping[str, Any],
        history: Mapping[str, Any] | None = None,
    ) -> ScoreResult:
        """Score and explain one applicant.

        ``application`` maps Kaggle application columns to values. ``history`` maps history
        table names to that applicant's rows (lists of records or DataFrames); absent
        tables count as empty. All rows given are taken to be this applicant's: their
        SK_ID_CURR is set to the application's (or a placeholder).
        """
        X = self.features_one(application, history)
        explanation = self.explain(X)
        result = self._results(explanation, [dict(application)], [_row_counts(history)])[0]
        result.features = {
            n: (None if np.isnan(v) else float(v))
            for n, v in zip(self.feature_names, X[0], strict=True)
        }
        return result

    def score_many(
        self,
        applications: Sequence[Mapping[str, Any]],
        histories: Sequence[Mapping[str, Any] | None],
    ) -> list[ScoreResult]:
        """Score and explain many applicants in one feature build and one SHAP pass.

        Each applicant is given like :meth:`score_one` (its own history or None) and gets
        exactly the result :meth:`score_one` would give: the applicants are numbered apart,
        and their bureau ids too, so no applicant's history can reach another's row.
        """
        if len(applications) == 1:  # one applicant online: the compiled path
            shared = history_values(histories[0])
            X = self.features_one(applications[0], history_features=shared)
            (result,) = self._results(
                self.explain(X), list(applications), [_row_counts(histories[0])]
            )
            result.history_features = shared
            return [result]
        X, counts = self._matrix_and_history_rows(applications, histories)
        if X is None:
            return []
        return self._results(self.explain(X), list(applications), counts)

    def probabilities_many(
        self,
        applications: Sequence[Mapping[str, Any]],
        histories: Sequence[Mapping[str, Any] | None],
    ) -> np.ndarray:
        """The probability of default :meth:`score_many` gives each applicant, from one
        feature build and one pass of the forest, without building the explanations (the
        age rule still applies: it needs the age family's contributions, nothing more)."""
        X, _ = self._matrix_and_history_rows(applications, histories)
        return self._probabilities(X)

    def probabilities_of_variants(
        self,
        applications: Sequence[Mapping[str, Any]],
        history: Mapping[str, Any] | None,
        *,
        history_features: Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """:meth:`probabilities_many` for variants of ONE applicant's row (counteroffer
        candidates) sharing that applicant's history: the compiled path of
        :meth:`features_one` over all the variants at once, the history built once, so
        each candidate's probability is the one its acceptance will be scored at.
        ``history_features``: the applicant's, from its own score (``history`` unread)."""
        if not applications:
            return np.empty(0)
        X = variant_rows(
            applications, history, exclude=self.excluded, history_features=history_features
        )
        return self._probabilities(X)

    def _probabilities(self, X: np.ndarray | None) -> np.ndarray:
        if X is None:
            return np.empty(0)
        ages = ages_in_years(self.feature_names, np.atleast_2d(np.asarray(X, dtype=np.float32)))
        if rule_applies(ages):
            contributions, logit = self.forest.shap(X)
            neutralised = neutralised_amounts(
                self.groups.sums(contributions), self.groups.families, ages
            )
        else:  # nobody 62 or over: nothing to take off, and no contribution is needed
            logit = self.forest.explained_logits(X)
            neutralised = np.zeros(len(logit))
        # The same arithmetic as `_results`, row by row, so the figures are the same bits.
        return np.array(
            [
                float(sigmoid(np.asarray([float(logit[i]) - float(neutralised[i])]))[0])
                for i in range(len(logit))
            ]
        )

    def matrix_many(
        self,
        applications: Sequence[Mapping[str, Any]],
        histories: Sequence[Mapping[str, Any] | None],
    ) -> np.ndarray | None:
        """The model matrix of many applicants, each with its own history (None if none):
        what :meth:`score_many` scores, and what drift monitoring compares."""
        return self._matrix_and_history_rows(applications, histories)[0]

    def _matrix_and_history_rows(
        self,
        applications: Sequence[Mapping[str, Any]],
        histories: Sequence[Mapping[str, Any] | None],
    ) -> tuple[np.ndarray | None, list[dict[str, int]]]:
        """The model matrix, and each applicant's row count per history table."""
        if len(applications) == 1:  # one applicant online: the compiled path
            return self.features_one(applications[0], histories[0]), [_row_counts(histories[0])]
        rows: list[dict[str, Any]] = []
        counts: list[dict[str, int]] = []
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in HISTORY_TABLES}
        for number, (application, history) in enumerate(
            zip(applications, histories, strict=True), start=1
        ):
            row, own = _one_applicant({**application, "SK_ID_CURR": number}, history)
            rows.append(row)
            counts.append({name: len(records) for name, records in own.items()})
            bureau_ids: dict[Any, int] = {}
            for name, records in own.items():
                if name in ("bureau", "bureau_balance"):
                    records = [_renumbered_bureau(r, bureau_ids, number) for r in records]
                tables[name].extend(records)
        if not rows:
            return None, counts
        return self.features(rows, {k: v for k, v in tables.items() if v}).X, counts

    def _results(
        self,
        explanation: Explanation,
        applications: Sequence[Mapping[str, Any]],
        history_rows: Sequence[Mapping[str, int]],
    ) -> list[ScoreResult]:
        """One result per explained row: contributions grouped to readable features, each
        with its family and whether it is about data the applicant gave; the age rule
        applied; the directional measures placed against the training population."""
        counts = [_every_table(rows) for rows in history_rows]
        results = []
        for i, explained in enumerate(self._explained(explanation, applications, counts)):
            logit = float(explanation.logit[i]) - explained.age_rule
            results.append(
                ScoreResult(
                    probability_of_default=float(sigmoid(np.asarray([logit]))[0]),
                    logit=logit,
                    base_value=float(explanation.base_value),
                    explained=explained,
                    model_version=self.version,
                    history_rows=counts[i],
                    age_neutralised=explained.age_rule,
                    measures=self._measured(explanation.values[i]),
                )
            )
        return results

    def _explained(
        self,
        explanation: Explanation,
        applications: Sequence[Mapping[str, Any]],
        history_rows: Sequence[Mapping[str, int]],
    ) -> list[ExplainedRow]:
        groups = self.groups
        neutralised = neutralised_amounts(
            groups.sums(explanation.contributions),
            groups.families,
            ages_in_years(self.feature_names, explanation.values),
        )
        return groups.explained_rows(explanation, applications, history_rows, neutralised)

    def explain_stored(
        self,
        feature_row: np.ndarray,
        application: Mapping[str, Any],
        history_rows: Mapping[str, int],
    ) -> ExplainedRow:
        """The explanation of a stored model row (a decision's): the same arrays, to the
        bit, as when the row was scored, since the forest reads the row as float32 and the
        row is kept as float32."""
        X = np.asarray(feature_row, dtype=np.float32).reshape(1, -1)
        if X.shape[1] != len(self.feature_names):
            raise ValueError(
                f"a stored row of {X.shape[1]} features cannot be explained by version "
                f"{self.version} ({len(self.feature_names)} features)"
            )
        return self._explained(self.explain(X), [application], [_every_table(history_rows)])[0]

    def _measured(self, values: np.ndarray) -> dict[str, dict[str, Any]]:
        out = {}
        for measure, j in self._measures:
            value = float(values[j])
            if np.isnan(value):
                continue
            out[measure.feature] = {
                "value": value,
                "adverse": measure.adverse,
                "share": self.reference.adverse_share(measure.feature, value, measure.adverse),
            }
        return out


def _row_counts(history: Mapping[str, Any] | None) -> dict[str, int]:
    return {name: len(rows) for name, rows in (history or {}).items() if rows is not None}


def _every_table(history_rows: Mapping[str, int]) -> dict[str, int]:
    """Rows per history table, naming every table (0 for those it has none in)."""
    return {name: int(history_rows.get(name, 0)) for name in HISTORY_TABLES}


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
        if isinstance(rows, pd.DataFrame):
            records = rows.to_dict("records")
        elif isinstance(rows, TableColumns):
            records = rows.records()
        else:
            records = copy.copy(rows)
        if name != "bureau_balance":  # linked through SK_ID_BUREAU instead
            records = [{**r, "SK_ID_CURR": row["SK_ID_CURR"]} for r in records]
        tables[name] = list(records)
    unknown = set(history or {}) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"unknown history tables: {sorted(unknown)}")
    return row, tables
