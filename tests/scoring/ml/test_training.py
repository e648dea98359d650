"""Training: the pipeline end to end on the real sample, the metrics it records, stacking,
calibration, tuning and progress."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from scoring.ml.features.build import build_features
from scoring.ml.training.ensemble import train_ensemble
from scoring.ml.training.learners import BASE_MODELS
from scoring.ml.training.metrics import fairness_report, score_metrics
from scoring.ml.training.pipeline import train_and_bundle
from scoring.ml.training.profiles import PROFILES
from tests.scoring.ml.ml_support import sample_features, trained_bundle

SCORE_KEYS = {"roc_auc", "gini", "ks", "brier", "log_loss", "calibration"}
GROUP_KEYS = {"selection_rate", "tpr", "fpr", "precision", "count"}


@pytest.fixture(scope="module")
def trained(home_credit_sample_dir):
    return trained_bundle(home_credit_sample_dir)


def test_the_real_sample_trains_end_to_end_into_a_bundle(trained) -> None:
    result, _ = trained
    assert result.bundle_path.is_dir() and result.bundle_path.name == result.version
    headline = result.headline()
    assert headline["version"] == result.version
    json.dumps(headline)  # one JSON line for the command
    # Too small to learn much, but the real schema carries signal through.
    assert headline["holdout_auc"] > 0.6
    assert headline["n_features"] >= 500


def test_metrics_carry_every_figure_of_the_issue(trained) -> None:
    result, _ = trained
    on_disk = json.loads((result.bundle_path / "metrics.json").read_text())
    for metrics in (result.metrics, on_disk):
        for library in BASE_MODELS:
            model = metrics["base_models"][library]
            for part in ("oof", "holdout"):
                assert set(model[part]) >= SCORE_KEYS
                assert len(model[part]["calibration"]) == 10
            assert model["importance"]["top"][0]["importance"] > 0
        ensemble = metrics["ensemble"]
        for part in ("oof", "holdout_uncalibrated", "holdout_calibrated"):
            assert set(ensemble[part]) >= SCORE_KEYS
        top = ensemble["importance"]["top"]
        assert ensemble["importance"]["type"].startswith("mean |SHAP|")
        assert top[0]["importance"] >= top[-1]["importance"] > 0
        assert "CODE_GENDER" not in {f["feature"] for f in top}
        table = ensemble["holdout_calibrated"]["calibration"]
        assert {"predicted", "observed", "count"} <= set(table[0])
        assert sum(r["count"] for r in table) == ensemble["holdout_calibrated"]["n"]
        fairness = metrics["fairness"]
        assert fairness["threshold"] == pytest.approx(0.2)
        for attribute in ("CODE_GENDER", "AGE_BAND"):
            report = fairness[attribute]
            assert {"demographic_parity_ratio", "equalized_odds_difference"} <= set(report)
            for group in report["groups"].values():
                assert set(group) == GROUP_KEYS
        assert set(fairness["CODE_GENDER"]["groups"]) == {"F", "M"}
        assert set(fairness["AGE_BAND"]["groups"]) <= {"<25", "25-34", "35-44", "45-54", "55+"}
        assert len(fairness["AGE_BAND"]["groups"]) >= 4


def test_progress_reports_each_fold_and_model_with_elapsed_time(trained) -> None:
    _, lines = trained
    folds = PROFILES["test"].folds
    for library in BASE_MODELS:
        for k in range(1, folds + 1):
            pattern = rf"^\[\s*\d+\.\d+s\] {library} fold {k}/{folds}: AUC 0\.\d+, \d+ trees"
            assert any(re.match(pattern, line) for line in lines), (library, k)
    assert any("Platt calibration" in line for line in lines)


def test_calibration_is_affine_in_the_stacked_logit_and_checked_on_unseen_rows(trained) -> None:
    result, _ = trained
    ensemble = json.loads((result.bundle_path / "ensemble.json").read_text())
    assert ensemble["calibration"]["method"] == "platt"
    assert np.isfinite(
        [ensemble["calibration"]["slope"], ensemble["calibration"]["intercept"]]
    ).all()
    training = json.loads((result.bundle_path / "training.json").read_text())
    holdout = training["rows"]["holdout"]
    assert result.metrics["ensemble"]["holdout_calibrated"]["n"] == holdout
    assert result.metrics["ensemble"]["oof"]["n"] == training["rows"]["dev"]
    assert training["rows"]["dev"] + holdout == 10_556
    # Calibrated on held-out rows, the mean PD tracks the observed rate.
    calibrated = result.metrics["ensemble"]["holdout_calibrated"]
    assert abs(calibrated["mean_predicted"] - calibrated["observed_rate"]) < 0.02


def test_oracle_auc_is_reported_for_generated_data(tiny_parquet, tmp_path) -> None:
    directory, _ = tiny_parquet
    result = train_and_bundle(directory, tmp_path, profile="test", seed=1)
    oof = result.metrics["ensemble"]["oof"]
    assert 0.5 < oof["oracle_roc_auc"] <= 1.0
    assert oof["gap_to_oracle"] == pytest.approx(oof["oracle_roc_auc"] - oof["roc_auc"])
    assert "oracle_roc_auc" in result.metrics["base_models"]["lightgbm"]["holdout"]
    assert result.metrics["headline"]["oracle_oof_auc"] == oof["oracle_roc_auc"]


def test_stacking_weights_apply_to_logits(home_credit_sample_dir) -> None:
    features = sample_features(home_credit_sample_dir).subset(np.arange(3000))
    ensemble = train_ensemble(features, profile="test", seed=2)
    margins = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    w = np.array([ensemble.meta_weights[m] for m in BASE_MODELS])
    np.testing.assert_allclose(
        ensemble.stacked_logit(margins), margins @ w + ensemble.meta_intercept
    )
    expected = ensemble.calibration_slope * ensemble.stacked_logit(margins)
    expected += ensemble.calibration_intercept
    np.testing.assert_allclose(ensemble.calibrated_logit(margins), expected)
    assert all(w > 0 for w in ensemble.meta_weights.values())


def test_optuna_tuning_spends_the_trial_budget(home_credit_sample_dir) -> None:
    features = sample_features(home_credit_sample_dir).subset(np.arange(2500))
    lines: list[str] = []
    ensemble = train_ensemble(features, profile="test", trials=2, seed=4, progress=lines.append)
    assert ensemble.training["trials"] == 2
    for library in BASE_MODELS:
        assert any(f"{library}: tuned over 2 trials" in line for line in lines)
    assert "num_leaves" in ensemble.training["params"]["lightgbm"]


def test_a_target_with_one_class_is_refused() -> None:
    features = build_features([{"SK_ID_CURR": i, "TARGET": 0} for i in range(20)])
    with pytest.raises(ValueError, match="both 0 and 1"):
        train_ensemble(features, profile="test")


def test_metric_helpers_on_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    m = score_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]), oracle=np.array([0.1, 0.2, 0.8, 0.9]))
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["gini"] == pytest.approx(0.5)
    assert m["ks"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["oracle_roc_auc"] == 1.0
    import pandas as pd

    protected = pd.DataFrame({"CODE_GENDER": ["F", "F", "M", "M"], "AGE_BAND": ["<25"] * 4})
    report = fairness_report(y, np.array([0.3, 0.1, 0.3, 0.1]), protected, threshold=0.2)
    assert report["CODE_GENDER"]["groups"]["F"]["selection_rate"] == 0.5
    assert report["CODE_GENDER"]["demographic_parity_ratio"] == 1.0
