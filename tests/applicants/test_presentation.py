"""Shaping decisions for the pages: the SHAP chart's bars and labels, the gauge, figures."""

from __future__ import annotations

import pytest

from applicants.presentation import (
    contribution_chart,
    feature_label,
    format_value,
    key_figures,
    pd_gauge,
    pd_histogram,
)


def test_chart_keeps_the_ten_largest_contributions_with_their_signs() -> None:
    contributions = [
        {"feature": f"F{i}", "value": i, "contribution": (-1) ** i * i / 10} for i in range(1, 16)
    ]
    chart = contribution_chart(contributions)
    assert chart.values == [-1.5, 1.4, -1.3, 1.2, -1.1, 1.0, -0.9, 0.8, -0.7, 0.6]
    assert chart.features[0] == "F15"
    assert chart.labels[0] == "F15 = 15"


@pytest.mark.parametrize(
    ("feature", "value", "label"),
    [
        ("EXT_SOURCE_2", 0.2134, "External score 2 = 0.213"),
        ("DAYS_BIRTH", -15000, "Age = 41.1 years"),
        ("DAYS_EMPLOYED", 365243, "Time employed = not employed"),
        ("AMT_CREDIT", 450000.0, "Requested credit = 450,000"),
        ("NAME_EDUCATION_TYPE_CODE", 1.0, "Education = Higher education"),
        ("NAME_FAMILY_STATUS_SEPARATED", 1.0, "Family status: Separated = yes"),
        ("BB_DPD_12M_SHARE", 0.25, "Share of bureau credit-months past due (12 m) = 25%"),
        (
            "BURO_ACT_AMT_CREDIT_SUM_OVERDUE_MAX",
            1200.0,
            "Max overdue amount · active bureau credits = 1,200",
        ),
        ("SOMETHING_NEW", None, "Something new = missing"),
    ],
)
def test_labels_read_as_the_officer_thinks(feature, value, label) -> None:
    assert f"{feature_label(feature)} = {format_value(value, feature)}" == label


def test_gauge_zones_follow_the_policy_and_the_needle_the_probability() -> None:
    gauge = pd_gauge(0.125, approve_below=0.08, reject_at_or_above=0.25)
    assert gauge.scale_max == 0.5 and gauge.percent == "12.5%"
    # A quarter of the dial: the needle points up and to the left.
    assert gauge.needle_x < 100 and gauge.needle_y < 100
    assert gauge.approve_arc.startswith("M 20.0 100.0")
    assert gauge.reject_arc.endswith("180.0 100.0")
    beyond = pd_gauge(0.9, approve_below=0.08, reject_at_or_above=0.25)
    assert (beyond.needle_x, beyond.needle_y) == (166.0, 100.0)  # clamped to the end


def test_histogram_covers_the_reject_threshold_and_the_largest_value() -> None:
    histogram = pd_histogram([0.01, 0.02, 0.33], reject_at_or_above=0.25)
    assert histogram["width"] == 0.02
    assert histogram["counts"][0] == 1 and histogram["counts"][1] == 1
    assert sum(histogram["counts"]) == 3
    assert histogram["counts"][histogram["labels"].index("32\u201334%")] == 1
    assert histogram["labels"][-1] == "\u2265 34%"


def test_key_figures_show_ratios_age_and_employment() -> None:
    figures = {
        f.label: f.value
        for f in key_figures(
            {
                "AMT_INCOME_TOTAL": 200000.0,
                "AMT_CREDIT": 500000.0,
                "AMT_ANNUITY": 25000.0,
                "DAYS_BIRTH": -15000,
                "DAYS_EMPLOYED": 365243,
            }
        )
    }
    assert figures["Credit / income"] == "2.50 x"
    assert figures["Annuity / income"] == "12%"
    assert figures["Age"] == "41 years"
    assert figures["Employment"] == "Not employed"
    assert "Goods price" not in figures
