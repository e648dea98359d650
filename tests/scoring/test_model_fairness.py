"""A model version's own fairness: the compliance audit's maths on its held-out rows, at the
active policy's thresholds (scoring/fairness.py), shown on the model and promotion pages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from scoring import fairness as model_fairness
from scoring.ml import fairness
from scoring.ml.training.ensemble import AUDIT_ROWS_MAX
from scoring.policy import current_policy, outcome_for

FAMILIES = ["Married", "Single / not married", "Widow", "Civil marriage"]


@dataclass(frozen=True)
class Policy:
    approve_below: float
    reject_at_or_above: float


def generated_rows(n: int = 8000, seed: int = 3, older_risk: float = 0.0) -> dict:
    """Held-out rows as training records them, for `n` generated applicants: ages 18 to 80,
    PDs that rise for the young (and, with `older_risk`, for those 62 and over)."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(18, 80, n)
    gender = rng.choice(np.array(["F", "M", "XNA"]), n, p=[0.6, 0.398, 0.002])
    family = rng.choice(np.array([*FAMILIES, ""]), n, p=[0.5, 0.25, 0.1, 0.1, 0.05])
    logit = -2.6 + 0.9 * (ages < 30) + older_risk * (ages >= 62) + rng.normal(0, 0.8, n)
    pds = 1 / (1 + np.exp(-logit))
    defaulted = rng.uniform(size=n) < pds

    def categories(values: np.ndarray) -> dict:
        codes, uniques = pd.factorize(values, sort=True)
        return {"values": [str(v) for v in uniques], "codes": codes.tolist()}

    return {
        "held_out": n,
        "pd": [round(float(p), 6) for p in pds],
        "defaulted": defaulted.astype(int).tolist(),
        "age_years": [round(float(a), 2) for a in ages],
        "code_gender": categories(gender),
        "family_status": categories(family),
    }


def metrics_with(rows: dict) -> dict:
    return {"ensemble": {"curves": {"audit_rows": rows}}}


def by_hand(rows: dict, policy: Policy) -> dict[str, dict[str, tuple[int, int]]]:
    """(n, approved) per group of each attribute, counted row by row with the policy's own
    `outcome_for` and the settings' bands: what the audit must agree with."""
    genders = [rows["code_gender"]["values"][c] for c in rows["code_gender"]["codes"]]
    families = [rows["family_status"]["values"][c] for c in rows["family_status"]["codes"]]
    labels = {"F": "Female", "M": "Male", "XNA": "Not stated"}
    out: dict[str, dict[str, list[int]]] = {"Gender": {}, "Age band": {}, "Family status": {}}
    for pd_, age, gender, family in zip(
        rows["pd"], rows["age_years"], genders, families, strict=True
    ):
        approved = int(outcome_for(pd_, policy) == "APPROVE")
        band = next(
            (label for label, low in (("62+", 62), ("45-61", 45), ("35-44", 35), ("25-34", 25))
             if age >= low),
            "<25",
        )  # fmt: skip
        for attribute, group in (
            ("Gender", labels[gender]),
            ("Age band", band),
            ("Family status", family or "Not stated"),
        ):
            n, a = out[attribute].get(group, (0, 0))
            out[attribute][group] = (n + 1, a + approved)
    return out


def test_the_held_out_audit_counts_every_applicant_as_the_policy_decides_them(settings) -> None:
    rows = generated_rows()
    policy = Policy(approve_below=0.08, reject_at_or_above=0.25)
    audit = model_fairness.held_out_audit(metrics_with(rows), policy)
    expected = by_hand(rows, policy)
    assert audit["decisions"] == len(rows["pd"]) == audit["outcomes_recorded"]
    for attribute in audit["attributes"]:
        counted = {
            r["group"]: (r["n"], round(r["approval_rate"] * r["n"])) for r in attribute["rows"]
        }
        assert counted == expected[attribute["label"]], attribute["label"]
    ages = next(a for a in audit["attributes"] if a["label"] == "Age band")
    assert [r["group"] for r in ages["rows"]] == ["<25", "25-34", "35-44", "45-61", "62+"]


def test_the_model_page_audit_is_the_compliance_audit(settings) -> None:
    """One implementation: the figures equal `audit_compute` over the same rows as a
    decision frame, with the settings' attributes and limits."""
    rows = generated_rows(seed=5)
    policy = Policy(approve_below=0.1, reject_at_or_above=0.3)
    audit = model_fairness.held_out_audit(metrics_with(rows), policy)
    pds = np.asarray(rows["pd"])
    frame = model_fairness.decision_frame(
        pds=pds,
        outcomes=np.array([outcome_for(p, policy).value for p in pds], dtype=object),
        code_gender=[rows["code_gender"]["values"][c] for c in rows["code_gender"]["codes"]],
        age_years=rows["age_years"],
        family_status=[rows["family_status"]["values"][c] or None
                       for c in rows["family_status"]["codes"]],
        loan_outcomes=["defaulted" if d else "repaid" for d in rows["defaulted"]],
    )  # fmt: skip
    figures = fairness.audit_compute(
        frame, model_fairness.attribute_specs(), model_fairness.audit_thresholds()
    )
    for attribute in audit["attributes"]:
        model_groups = figures["attributes"][attribute["name"]]["model"]["groups"]
        for row in attribute["rows"]:
            group = model_groups[row["group"]]
            assert row["adverse_impact_ratio"] == group["adverse_impact_ratio"]
            assert row["p_value"] == group["p_value"] and row["verdict"] == group["verdict"]
        assert attribute["verdict"] == figures["attributes"][attribute["name"]]["model"]["verdict"]


def test_thresholds_change_the_verdict_and_small_groups_are_too_few(settings) -> None:
    """Applicants of 62 and over made riskier: a strict policy approves them far less often
    (a significant failure); a loose one approves nearly everyone (a pass)."""
    rows = generated_rows(older_risk=1.6, seed=8)
    strict = model_fairness.held_out_audit(metrics_with(rows), Policy(0.06, 0.3))
    loose = model_fairness.held_out_audit(metrics_with(rows), Policy(0.9, 0.95))

    def age_row(audit: dict, group: str) -> dict:
        ages = next(a for a in audit["attributes"] if a["label"] == "Age band")
        return next(r for r in ages["rows"] if r["group"] == group)

    assert age_row(strict, "62+")["verdict"] == "fail" and strict["verdict"] == "fail"
    assert age_row(strict, "62+")["p_value"] < 0.05
    assert age_row(loose, "62+")["verdict"] in ("pass", "reference")
    assert next(a for a in loose["attributes"] if a["label"] == "Age band")["verdict"] == "pass"
    # About 0.2% of applicants have no stated gender: under 30 of them, too few to judge.
    genders = next(a for a in strict["attributes"] if a["label"] == "Gender")
    unstated = next(r for r in genders["rows"] if r["group"] == "Not stated")
    assert unstated["n"] < 30 and unstated["verdict"] == "too_few"


def test_no_policy_or_an_old_bundle_has_no_held_out_audit(settings) -> None:
    assert model_fairness.held_out_audit({}, Policy(0.1, 0.3)) is None
    assert model_fairness.held_out_audit(metrics_with(generated_rows(100)), None) is None


def test_policy_outcomes_match_the_policy_at_its_edges() -> None:
    policy = Policy(approve_below=0.1, reject_at_or_above=0.25)
    pds = np.array([0.0, 0.0999, 0.1, 0.2, 0.2499, 0.25, 1.0])
    vectorised = model_fairness.policy_outcomes(pds, policy)
    assert list(vectorised) == [outcome_for(float(p), policy).value for p in pds]


# --- the real trained model and its pages --------------------------------------------------------


@pytest.mark.django_db
def test_training_keeps_the_held_out_rows_and_the_pages_show_their_audit(
    client, trained_model, model_admin
) -> None:
    rows = trained_model.metrics["ensemble"]["curves"]["audit_rows"]
    held_out = trained_model.metrics["ensemble"]["holdout_calibrated"]["n"]
    assert rows["held_out"] == held_out and len(rows["pd"]) == min(held_out, AUDIT_ROWS_MAX)
    if held_out <= AUDIT_ROWS_MAX:  # every held-out row kept, defaults and all
        positives = trained_model.metrics["ensemble"]["holdout_calibrated"]["positives"]
        assert sum(rows["defaulted"]) == positives
    assert all(18 <= a <= 80 for a in rows["age_years"] if a is not None)
    policy = current_policy()
    audit = model_fairness.held_out_audit(trained_model.metrics, policy)
    client.force_login(model_admin)
    page = client.get(f"/models/{trained_model.version}/").content.decode()
    assert f"Fairness at policy v{policy.version}" in page
    assert f'data-verdict="{audit["verdict"]}"' in page and "Impact ratio" in page
    promotion = client.get(f"/models/{trained_model.version}/activate/").content.decode()
    assert "Fairness at the policy" in promotion and "Impact ratio" in promotion
