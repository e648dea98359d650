"""The audit maths on arrays: ratios, tests, verdicts, bands, overrides, outcome metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    true_positive_rate,
)
from scipy.stats import norm
from sklearn.metrics import precision_score

from audits import fairness_summary
from scoring.ml import fairness
from scoring.ml.fairness import AttributeSpec, Thresholds

GENDER = AttributeSpec(name="CODE_GENDER", label="Gender", source="code_gender")
AGE = AttributeSpec(name="AGE_BAND", label="Age band", source="age_years", bands=(25, 35, 45, 62))


def compute(frame: pd.DataFrame, specs: list[AttributeSpec]) -> dict:
    figures = fairness.audit_compute(frame, specs, Thresholds())
    figures["summary"] = fairness_summary.audit_summary(
        figures, Thresholds(), [spec.name for spec in specs]
    )
    return figures


def frame_of(groups: dict[str, tuple[int, int]], **extra) -> pd.DataFrame:
    """{"F": (n, approved)} as a decision frame: approvals first, the rest rejected."""
    rows = []
    for group, (n, approved) in groups.items():
        for i in range(n):
            outcome = "APPROVE" if i < approved else "REJECT"
            rows.append(
                {
                    "code_gender": group,
                    "model_outcome": outcome,
                    "final_outcome": outcome,
                    "override": None,
                    "pd": 0.05 if outcome == "APPROVE" else 0.3,
                    "loan_outcome": None,
                    "age_years": 40.0,
                }
            )
    return pd.DataFrame(rows)


def test_known_disparity_is_a_significant_failure_of_the_four_fifths_rule() -> None:
    figures = compute(frame_of({"A": (500, 300), "B": (500, 200)}), [GENDER])
    gender = figures["attributes"]["CODE_GENDER"]
    assert gender["reference"] == "A"
    assert gender["reference_source"] == "most favoured"
    b = gender["groups"]["B"]
    assert b["approval_rate"] == pytest.approx(0.4)
    assert b["adverse_impact_ratio"] == pytest.approx(0.667, abs=5e-4)
    assert b["p_value"] < 0.05
    assert b["test"] == "fisher"
    assert b["verdict"] == "fail"
    assert gender["verdict"] == "fail"
    assert gender["groups"]["A"]["verdict"] == "reference"
    assert "B was approved at 0.67 times the rate of A" in figures["summary"]


def test_twenty_per_group_is_too_few_to_judge() -> None:
    figures = compute(frame_of({"A": (20, 12), "B": (20, 8)}), [GENDER])
    gender = figures["attributes"]["CODE_GENDER"]
    b = gender["groups"]["B"]
    assert b["adverse_impact_ratio"] == pytest.approx(0.667, abs=5e-4)
    assert b["verdict"] == "too_few"
    assert b["small"] is True
    # A low ratio that cannot be judged still asks for a person's look.
    assert gender["verdict"] == "review"
    assert "too few to judge" in figures["summary"]


def test_low_ratio_without_significance_is_review() -> None:
    figures = compute(frame_of({"A": (40, 20), "B": (40, 14)}), [GENDER])
    b = figures["attributes"]["CODE_GENDER"]["groups"]["B"]
    assert b["adverse_impact_ratio"] == pytest.approx(0.7)
    assert b["p_value"] > 0.05
    assert b["verdict"] == "review"


def test_ratio_at_four_fifths_passes() -> None:
    figures = compute(frame_of({"A": (500, 250), "B": (500, 200)}), [GENDER])
    assert figures["attributes"]["CODE_GENDER"]["groups"]["B"]["verdict"] == "pass"
    assert figures["attributes"]["CODE_GENDER"]["verdict"] == "pass"


def test_large_groups_use_the_two_proportion_z_test() -> None:
    p_value, test = fairness.approval_difference_test(1800, 3000, 1700, 3000, exact_test_below=2000)
    assert test == "z"
    # pooled z by hand: p = 3500/6000, se = sqrt(p(1-p)(2/3000))
    pooled = 3500 / 6000
    z = (0.6 - 1700 / 3000) / np.sqrt(pooled * (1 - pooled) * (2 / 3000))
    assert p_value == pytest.approx(2 * norm.sf(z), rel=1e-12)


def test_reference_group_from_settings_is_used() -> None:
    spec = AttributeSpec(name="CODE_GENDER", label="Gender", source="code_gender", reference="B")
    figures = compute(frame_of({"A": (100, 60), "B": (100, 40)}), [spec])
    gender = figures["attributes"]["CODE_GENDER"]
    assert gender["reference"] == "B"
    assert gender["reference_source"] == "settings"
    assert gender["groups"]["A"]["adverse_impact_ratio"] == pytest.approx(1.5)


def test_age_bands_put_62_in_the_oldest_band() -> None:
    frame = pd.DataFrame({"age_years": [24.99, 25.0, 34.9, 44.99, 45.0, 61.99, 62.0, 80.0, None]})
    labels = fairness.group_labels(frame, AGE).tolist()
    assert labels == [
        "<25",
        "25-34",
        "25-34",
        "35-44",
        "45-61",
        "45-61",
        "62+",
        "62+",
        "Not stated",
    ]


def test_overrides_are_counted_by_direction() -> None:
    groups = pd.Series(["A", "A", "A", "B", "B"])
    model = pd.Series(["REFER", "REFER", "REFER", "REFER", "APPROVE"])
    overrides = pd.Series(["APPROVE", "REJECT", None, "REJECT", None])
    out = fairness.override_metrics(groups, model, overrides, ["A", "B"])
    assert out["A"] == {
        "referred": 3,
        "overridden": 2,
        "override_rate": pytest.approx(2 / 3),
        "up": 1,
        "down": 1,
        "up_share": 0.5,
    }
    assert out["B"]["down"] == 1 and out["B"]["up"] == 0 and out["B"]["override_rate"] == 1.0


def test_outcome_metrics_equal_fairlearns_own_figures() -> None:
    rng = np.random.default_rng(12)
    n = 3000
    groups = rng.choice(np.array(["A", "B", "C"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    pds = rng.uniform(0.01, 0.6, size=n)
    repaid = (rng.uniform(size=n) > pds).astype(int)
    approved = ((pds + rng.normal(0, 0.1, size=n)) < 0.25).astype(int)
    out = fairness.outcome_metrics(
        groups, repaid, approved, pds, order=["A", "B", "C"], thresholds=Thresholds()
    )
    by_hand = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=repaid,
        y_pred=approved,
        sensitive_features=groups,
    )
    for group in ("A", "B", "C"):
        mask = groups == group
        figures = out["groups"][group]
        assert abs(figures["tpr"] - by_hand.by_group.at[group, "tpr"]) < 1e-9
        assert abs(figures["fpr"] - by_hand.by_group.at[group, "fpr"]) < 1e-9
        assert abs(figures["precision"] - precision_score(repaid[mask], approved[mask])) < 1e-9
        assert abs(figures["observed_default_rate"] - (1 - repaid[mask].mean())) < 1e-9
        assert abs(figures["mean_pd"] - pds[mask].mean()) < 1e-9
    gaps = out["differences"]
    eo = equal_opportunity_difference(repaid, approved, sensitive_features=groups)
    eodds = equalized_odds_difference(repaid, approved, sensitive_features=groups)
    assert abs(gaps["equal_opportunity"] - eo) < 1e-9
    assert abs(gaps["equalized_odds"] - eodds) < 1e-9
    precision = MetricFrame(
        metrics=precision_score, y_true=repaid, y_pred=approved, sensitive_features=groups
    )
    assert abs(gaps["predictive_parity"] - precision.difference()) < 1e-9


def test_no_decisions_says_so() -> None:
    empty = pd.DataFrame(
        columns=["code_gender", "model_outcome", "final_outcome", "override", "pd", "loan_outcome"]
    )
    figures = compute(empty, [GENDER])
    assert figures["totals"]["decisions"] == 0
    assert figures["summary"].startswith("There were no decisions")
