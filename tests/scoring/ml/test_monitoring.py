"""Drift and expected performance (scoring/ml/monitoring.py) on generated populations.

A model is trained on one generated population; a second population drawn from the same
generator with another seed is the live traffic. Left alone it does not drift.

The shifted population is one a lender could see: a new channel (say a wealth manager's
clients) brings applicants aged 50 or more, from the upper half of today's incomes, whose
incomes are also 1.5 times higher. It is *selected* from the generated population, not made
by editing DAYS_BIRTH: in the generator (as in life) age comes with what goes with it, a
higher EXT_SOURCE_1 and more credit activity, so a row aged 15 years on paper is an
applicant who cannot exist. Measured on 18,000 live rows, editing every age +15 years and
every income x1.5 moves the score's PSI only to 0.08 (the model sees a young applicant's
credit file with an old date of birth); the selected channel moves it to about 0.32, and
the age and income features to several units.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoring.ml.data.load import load_tables
from scoring.ml.features.build import YEAR_DAYS
from scoring.ml.monitoring import (
    ALWAYS_WATCHED,
    PSI_ACT,
    PSI_WATCH,
    bucket_shares,
    cut_points,
    drift_report,
    expected_roc_auc,
    psi,
    psi_level,
    realized_metrics,
    realized_performance,
)
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import load_bundle
from scoring.ml.serving.predict import Scorer
from scoring.ml.synth.generate import generate
from scoring.ml.training.metrics import confusion_at, pd_histogram, roc_points
from scoring.ml.training.pipeline import train_and_bundle

SCALE = 0.02  # about 6,000 applicants: enough rows for stable deciles, quick to train


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitoring")
    generate(root / "train", SCALE, 21, "parquet")
    result = train_and_bundle(root / "train", root / "models", profile="test", seed=2)
    generate(root / "live", 2 * SCALE, 22, "parquet")  # the channel keeps about a sixth
    tables = load_tables(root / "live", ["application_train", *HISTORY_TABLES])
    return Scorer.from_bundle(result.bundle_path), tables


def _live(
    scorer: Scorer,
    tables: dict,
    *,
    income: float = 1.0,
    aged_at_least: float | None = None,
    ext: float = 1.0,
) -> tuple[np.ndarray, dict, np.ndarray]:
    app = tables["application_train"].copy()
    if aged_at_least is not None:
        # The channel: applicants of at least that age, from the upper half of incomes.
        age = -app["DAYS_BIRTH"] / YEAR_DAYS
        richer = app["AMT_INCOME_TOTAL"] >= app["AMT_INCOME_TOTAL"].median()
        app = app[(age >= aged_at_least) & richer].reset_index(drop=True)
    app["AMT_INCOME_TOTAL"] = app["AMT_INCOME_TOTAL"] * income
    for column in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        app[column] = app[column] * ext
    history = {name: tables[name] for name in HISTORY_TABLES}
    features = scorer.features(app, history)
    p = scorer.predict(features.X)
    columns = {name: features.X[:, i] for i, name in enumerate(features.feature_names)}
    return p, columns, app["TARGET"].to_numpy()


def _report(scorer: Scorer, tables: dict, **shift: float) -> dict:
    reference = scorer.bundle.metrics["reference"]
    p, columns, _ = _live(scorer, tables, **shift)
    features = {name: columns[name].tolist() for name in reference["features"]}
    return drift_report(reference, probabilities=p.tolist(), features=features)


def _derived_from(scorer: Scorer, names, column: str) -> list[str]:
    inputs = {spec.name: spec.inputs for spec in scorer.specs}
    return [name for name in names if column in inputs[name]]


def test_the_bundle_records_reference_distributions_and_chart_curves(generated) -> None:
    scorer, _ = generated
    metrics = load_bundle(scorer.bundle.path).metrics
    reference = metrics["reference"]
    top = {r["feature"] for r in metrics["ensemble"]["importance"]["top"][:30]}
    # The 30 most important features, and who applies (age, income, amounts) in any case.
    assert set(reference["features"]) == top | set(ALWAYS_WATCHED) and len(top) == 30
    assert abs(sum(reference["score"]["shares"]) - 1) < 1e-9
    curves = metrics["ensemble"]["curves"]
    assert len(curves["roc"]["fpr"]) == 101 and curves["roc"]["tpr"][-1] == 1.0
    assert curves["oracle_roc"] is not None  # generated data: the oracle's curve too
    held_out = metrics["ensemble"]["holdout_calibrated"]
    histogram = curves["pd_histogram"]
    assert sum(histogram["defaults"]) == held_out["positives"]
    assert sum(histogram["defaults"]) + sum(histogram["non_defaults"]) == held_out["n"]
    assert set(curves["group_pd_histograms"]) == {"CODE_GENDER", "AGE_BAND"}


def test_an_unshifted_population_does_not_drift(generated) -> None:
    report = _report(*generated)
    assert report["score"]["psi"] < PSI_WATCH
    assert report["worst_psi"] < PSI_WATCH, report["features"][:3]


def test_older_richer_applicants_drift_on_income_age_and_the_score(generated) -> None:
    scorer, tables = generated
    p, _, _ = _live(scorer, tables, income=1.5, aged_at_least=50)
    assert len(p) > 1000, "enough rows for deciles"
    report = _report(scorer, tables, income=1.5, aged_at_least=50)
    psi_of = {row["feature"]: row["psi"] for row in report["features"]}
    from_income = _derived_from(scorer, psi_of, "AMT_INCOME_TOTAL")
    from_age = _derived_from(scorer, psi_of, "DAYS_BIRTH")
    assert from_income and from_age, "income and age reach the 30 reference features"
    assert psi_of["AMT_INCOME_TOTAL"] > PSI_ACT and psi_of["DAYS_BIRTH"] > PSI_ACT
    assert max(psi_of[f] for f in from_income) > PSI_ACT
    assert max(psi_of[f] for f in from_age) > PSI_ACT
    # Older, richer applicants are safer in this population: the whole score moves.
    assert report["score"]["psi"] > PSI_ACT and report["score"]["level"] == "act"
    assert p.mean() < _live(scorer, tables)[0].mean()


def test_a_riskier_population_drifts_on_the_score(generated) -> None:
    # External credit scores 40% lower: the score's own distribution moves past "act".
    report = _report(*generated, ext=0.6)
    assert report["score"]["psi"] > PSI_ACT and report["score"]["level"] == "act"


def test_expected_auc_from_calibrated_pds_matches_the_realized_auc(generated) -> None:
    scorer, tables = generated
    p, _, target = _live(scorer, tables)
    expected = expected_roc_auc(p)
    realized = realized_metrics(target, p)
    assert abs(expected - realized["roc_auc"]) < 0.02, (expected, realized)
    assert abs(p.mean() - realized["default_rate"]) < 0.02


def test_expected_auc_is_a_weighted_mann_whitney() -> None:
    # Calibrated and perfectly separated: certain defaulters above certain payers.
    assert expected_roc_auc([0.0, 0.0, 1.0, 1.0]) == 1.0
    # Every PD equal: no ranking at all.
    assert expected_roc_auc([0.3] * 50) == pytest.approx(0.5)
    # Against brute force over all ordered pairs i != j, ties counted half.
    rng = np.random.default_rng(1)
    p = rng.choice([0.05, 0.1, 0.2, 0.4, 0.7], size=60)
    num = den = 0.0
    for i in range(60):
        for j in range(60):
            if i != j:
                w = p[i] * (1 - p[j])
                den += w
                num += w * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    assert expected_roc_auc(p) == pytest.approx(num / den)
    assert expected_roc_auc([0.5]) is None


def test_psi_buckets_levels_and_missing_values() -> None:
    values = np.arange(1000, dtype=float)
    cuts = cut_points(values)
    assert len(cuts) == 9
    shares = bucket_shares(values, cuts)
    assert len(shares) == 11 and shares[-1] == 0.0  # the last bucket holds missing values
    assert psi(shares, shares) == 0.0
    half_missing = bucket_shares([*values[:500], *([None] * 500)], cuts)
    assert half_missing[-1] == 0.5 and psi(shares, half_missing) > PSI_ACT
    assert cut_points(np.zeros(100)) == [0.0]  # a constant gets one cut, not ten
    assert [psi_level(v) for v in (0.05, 0.1, 0.3, None)] == ["stable", "watch", "act", "unknown"]
    with pytest.raises(ValueError, match="same buckets"):
        psi([0.5, 0.5], [1.0])


def test_a_bundle_without_reference_reports_none() -> None:
    report = drift_report(None, probabilities=[0.1, 0.2], features={})
    assert report == {"reference": False, "rows": 2, "score": None, "features": []}


def test_confusion_at_policy_thresholds_from_the_histogram() -> None:
    y = np.array([1, 1, 0, 0, 0, 1])
    p = np.array([0.02, 0.30, 0.05, 0.10, 0.25, 0.10])
    matrix = confusion_at(pd_histogram(y, p), approve_below=0.08, reject_at_or_above=0.20)
    assert matrix == {
        "default": {"approve": 1, "refer": 1, "reject": 1},
        "repaid": {"approve": 1, "refer": 1, "reject": 1},
    }
    # A PD exactly on a threshold is on the riskier side, as the policy decides it.
    on_edge = confusion_at(pd_histogram([0], [0.2]), approve_below=0.1, reject_at_or_above=0.2)
    assert on_edge["repaid"]["reject"] == 1
    assert roc_points(np.array([0, 1]), np.array([0.1, 0.9]))["tpr"][1] == 1.0


def test_realized_performance_sets_observed_outcomes_beside_the_expected_ones() -> None:
    defaulted = np.array([1, 0, 0, 1, 0, 0])
    pds = np.array([0.9, 0.1, 0.2, 0.6, 0.3, 0.05])
    approved = pds < 0.25
    figures = realized_performance(defaulted=defaulted, pds=pds, approved=approved)
    assert figures["rows"] == 6 and figures["defaulted"] == 2
    assert figures["default_rate"] == pytest.approx(2 / 6)
    assert figures["expected_default_rate"] == pytest.approx(pds.mean())
    assert figures["roc_auc"] == pytest.approx(1.0)  # every defaulter ranks above every payer
    assert figures["approved_rows"] == 3 and figures["approved_default_rate"] == 0.0
    assert figures["approved_expected_default_rate"] == pytest.approx(pds[approved].mean())
    # One defaulter approved among three: the rate among the approved moves with it.
    approved[0] = True
    assert realized_performance(defaulted=defaulted, pds=pds, approved=approved)[
        "approved_default_rate"
    ] == pytest.approx(1 / 4)


def test_no_recorded_outcome_is_said_as_such() -> None:
    empty = np.array([])
    figures = realized_performance(defaulted=empty, pds=empty, approved=empty)
    assert figures["rows"] == 0 and figures["roc_auc"] is None
    assert figures["default_rate"] is None and figures["approved_default_rate"] is None
