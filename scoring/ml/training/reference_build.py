"""``reference.json``: what a bundle records about its training population.

* ``features``: each model feature's missing rate and quantiles (directional reasons are
  checked against them, :mod:`scoring.ml.serving.reference`).
* ``inputs``: the input contract, one entry per application column: its missing rate in
  training, its observed range, the accepted domain (the robust range, 0.1st to 99.9th
  percentile, widened by :data:`DOMAIN_MARGIN` of its width on each side; a column that is
  only ever 0 or 1 keeps exactly that), its share of the model's attribution, and whether it
  is *required* (never missing in training and at least :data:`IMPORTANT_SHARE` of the
  attribution). For the region (:data:`~scoring.ml.schema.contract.REGION_COLUMN`, a share
  of the population that takes one value per anonymised region) it also lists the distinct
  training values with their counts (``values``), which the web form offers as a list.
  :mod:`scoring.ml.schema.contract` applies it to every way in.
* ``age_rule``: on the held-out rows, how many applicants were aged 62+ and for how many
  the rule took the age family's risk off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from scoring.ml.features.build import FeatureSet
from scoring.ml.features.families import AGE_RULE_YEARS
from scoring.ml.schema.contract import REGION_COLUMN
from scoring.ml.schema.records import APPLICATION_TABLE, ASSIGNED_COLUMNS
from scoring.ml.schema.tables import Kind
from scoring.ml.serving.age_rule import ages_in_years, neutralised_amounts
from scoring.ml.serving.explain import FeatureGroups
from scoring.ml.serving.forest import Forest
from scoring.ml.serving.reference import feature_reference
from scoring.ml.training.ensemble import TrainedEnsemble
from scoring.ml.training.learners import BASE_MODELS, LEARNERS

#: Each side of the robust range is widened by this share of its width.
DOMAIN_MARGIN = 1.0
#: An input with at least this share of the mean |SHAP| attribution "matters to the model".
IMPORTANT_SHARE = 0.01
#: A region list longer than this is not a list of regions (continuous data): not recorded.
MAX_LISTED_REGIONS = 500
#: Regions are told apart to this many significant digits: copies of the data re-saved by
#: pandas differ in the last binary digit (0.035792 and 0.035792000000000004).
REGION_DIGITS = 7
#: Held-out rows explained for the attribution shares and the age rule's figures (enough
#: for stable shares; all of a demo's held-out rows).
EXPLAINED_ROWS = 20_000


def compile_forest(ensemble: TrainedEnsemble, n_features: int) -> Forest:
    """The served forest (meta-learner and calibration folded in), as the Scorer builds it."""
    slope = ensemble.calibration_slope
    return Forest(
        [LEARNERS[m].trees(ensemble.models[m]) for m in BASE_MODELS],
        [slope * ensemble.meta_weights[m] for m in BASE_MODELS],
        n_features=n_features,
        bias=slope * ensemble.meta_intercept + ensemble.calibration_intercept,
    )


def training_reference(
    *,
    features: FeatureSet,
    application: pd.DataFrame,
    ensemble: TrainedEnsemble,
    say: Callable[[str], None] = lambda _: None,
    seed: int = 0,
) -> dict[str, Any]:
    names = list(features.feature_names)
    groups = FeatureGroups(features.specs)
    hold = ensemble.holdout_rows
    if hold is None:
        hold = np.arange(len(features))
    rng = np.random.default_rng(seed)
    explained = np.sort(rng.permutation(hold)[:EXPLAINED_ROWS])
    X = features.X[explained]
    contributions, _ = compile_forest(ensemble, len(names)).shap(X)
    group_sums = groups.sums(contributions)
    ages = ages_in_years(names, X)
    amounts = neutralised_amounts(group_sums, groups.families, ages)
    covered = 0 if ages is None else int((np.nan_to_num(ages) >= AGE_RULE_YEARS).sum())
    say(
        f"age rule: {int((amounts > 0).sum())} of {covered} held-out applicants aged "
        f"{AGE_RULE_YEARS}+ had the age family's risk taken off"
    )
    weight = np.abs(group_sums).mean(axis=0)
    share_by_column: dict[str, float] = {}
    for g, columns in enumerate(groups.columns):
        for column in columns:
            share_by_column[column] = share_by_column.get(column, 0.0) + float(weight[g])
    total = float(weight.sum()) or 1.0
    return {
        **feature_reference(names, features.X),
        "inputs": input_contract(application, {k: v / total for k, v in share_by_column.items()}),
        "age_rule": {
            "age_years": AGE_RULE_YEARS,
            "held_out_examined": len(explained),
            "held_out_aged_62_plus": covered,
            "held_out_neutralised": int((amounts > 0).sum()),
            "mean_neutralised_logit": float(amounts[amounts > 0].mean())
            if (amounts > 0).any()
            else 0.0,
        },
    }


def input_contract(application: pd.DataFrame, attribution: dict[str, float]) -> dict[str, Any]:
    """One entry per application column a client may send (see the module docstring)."""
    out: dict[str, Any] = {}
    rows = max(len(application), 1)
    for column in APPLICATION_TABLE.columns:
        name = column.name
        if name in ASSIGNED_COLUMNS or name not in application.columns:
            continue
        values = application[name]
        missing_rate = float(values.isna().sum()) / rows
        share = float(attribution.get(name, 0.0))
        entry: dict[str, Any] = {
            "kind": str(column.kind),
            "missing_rate": round(missing_rate, 6),
            "attribution_share": round(share, 6),
            "required": missing_rate == 0.0 and share >= IMPORTANT_SHARE,
        }
        if column.kind is not Kind.CATEGORY:
            present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(np.float64)
            if len(present):
                entry.update(_domain(present, whole=column.kind is Kind.INT))
            if name == REGION_COLUMN and len(present):
                entry.update(_listed_values(present))
        out[name] = entry
    return out


def _listed_values(present: np.ndarray) -> dict[str, Any]:
    """``values``: each distinct value (to :data:`REGION_DIGITS` digits) and its count,
    when there are few enough to be a list of regions."""
    rounded = np.array([float(f"{value:.{REGION_DIGITS}g}") for value in present])
    values, counts = np.unique(rounded, return_counts=True)
    if len(values) > MAX_LISTED_REGIONS:
        return {}
    return {"values": [[float(v), int(c)] for v, c in zip(values, counts, strict=True)]}


def _domain(present: np.ndarray, *, whole: bool) -> dict[str, Any]:
    low_q, high_q = np.quantile(present, [0.001, 0.999])
    observed = (float(present.min()), float(present.max()))
    if set(np.unique(present)) <= {0.0, 1.0}:
        low, high = 0.0, 1.0  # a flag: 0 or 1, nothing else
    else:
        margin = DOMAIN_MARGIN * float(high_q - low_q)
        low, high = float(low_q) - margin, float(high_q) + margin
        if whole:
            low, high = float(np.floor(low)), float(np.ceil(high))
    return {
        "observed": [observed[0], observed[1]],
        "robust": [float(low_q), float(high_q)],
        "domain": [low, high],
    }
