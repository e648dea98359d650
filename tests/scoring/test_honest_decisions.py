"""Every reason a decision states is true of the applicant's own data (issue 11).

2,000 generated applicants, with inputs and history removed at random the way thin online
applications arrive, are decided through `scoring.decide` (the one path every door uses)
by a real trained ensemble. Over all of them:

* no reason cites a family whose inputs were all missing;
* no history reason is given to an applicant without history rows;
* every directional reason's fact holds against the training population;
* each family's percentage points add up to PD minus the base PD within 1e-9;
* the age family never raises the risk of an applicant aged 62 or over.
"""

from __future__ import annotations

import json
import math
import re
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from scoring import registry
from scoring.ml.features.build import feature_catalogue
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import load_bundle
from scoring.ml.serving.explain import family_points
from scoring.ml.serving.reference import QUANTILE_GRID
from scoring.ml.synth.clients import client_payload, generated_clients
from scoring.ml.synth.generate import generate
from scoring.models import Decision
from tests.factories import UserFactory
from tests.scoring.generated_batch import batch_decided

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

APPLICANTS = 2000
SCALE, SEED = 0.007, 11  # about 2,150 generated applicants
PREVIOUS_TABLES = ("previous_application", "POS_CASH_balance", "installments_payments",
                   "credit_card_balance")  # fmt: skip
#: Always sent (the application cannot be made without them).
KEPT = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH", "NAME_CONTRACT_TYPE")


def _thin_applications(directory: Path, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Applicants as clients send them: random inputs left out, history removed at random
    (none at all, no bureau, no previous loans, or all of it)."""
    out = []
    for row, full_history in islice(generated_clients(directory), APPLICANTS):
        drop_share = rng.choice([0.0, 0.3, 0.7, 0.95])
        sent = {
            k: v
            for k, v in row.items()
            if v is not None and (k in KEPT or rng.random() >= drop_share)
        }
        kind = rng.choice(["none", "no_bureau", "no_previous", "all"], p=[0.35, 0.15, 0.15, 0.35])
        history = {
            name: rows
            for name, rows in full_history.items()
            if not (
                kind == "none"
                or (kind == "no_bureau" and name.startswith("bureau"))
                or (kind == "no_previous" and name in PREVIOUS_TABLES)
            )
        }
        if (payload := client_payload(sent, history)) is not None:
            out.append(payload)
    return out


@pytest.fixture
def decided(tmp_path, trained_model) -> list[tuple[dict[str, Any], Decision]]:
    generate(tmp_path / "synth", SCALE, SEED, "parquet")
    applications = _thin_applications(tmp_path / "synth", np.random.default_rng(SEED))
    assert len(applications) >= 0.95 * APPLICANTS  # the generator's rows are valid input
    officer = UserFactory(roles=["loan_officer"])
    batch, saved = batch_decided(officer, applications, filename="thin.csv")
    decisions = {d.application_id: d for d in Decision.objects.filter(application__batch=batch)}
    assert len(decisions) == len(saved)
    return [(a, decisions[s.pk]) for a, s in zip(applications, saved, strict=True)]


def _group_inputs() -> dict[str, set[str]]:
    inputs: dict[str, set[str]] = {}
    for spec in feature_catalogue():
        inputs.setdefault(spec.group, set()).update(spec.inputs)
    return inputs


def test_every_reason_over_2000_thin_applicants_is_true(decided, trained_model) -> None:
    reference = load_bundle(trained_model.bundle_path).reference["features"]
    group_inputs = _group_inputs()
    history_names = set(HISTORY_TABLES)
    seen = {"reasons": 0, "directional": 0, "no_history_applicants": 0, "aged_62": 0,
            "neutralised": 0, "not_provided": 0, "no_history_reason": 0}  # fmt: skip
    for application, decision in decided:
        sent = set(application["row"])
        with_rows = {name for name, rows in application["history"].items() if rows}
        if not with_rows:
            seen["no_history_applicants"] += 1
        assert decision.history_rows == {
            name: len(application["history"].get(name, [])) for name in HISTORY_TABLES
        }
        for reason in decision.reasons:
            seen["reasons"] += 1
            assert reason["fact"], reason
            if reason["code"] == "NOT_PROVIDED":
                seen["not_provided"] += 1
                continue
            if reason["family"] == "no_history":
                seen["no_history_reason"] += 1
                assert not with_rows or reason["code"] != "NO_CREDIT_HISTORY"
                continue
            for feature in reason["features"]:
                inputs = group_inputs[feature]
                columns, tables = inputs - history_names, inputs & history_names
                # The family's inputs were not all missing: something the applicant gave.
                assert (columns & sent) or (tables & with_rows), (feature, reason)
                # A history family is never cited without rows in its tables.
                if tables:
                    assert tables & with_rows, (feature, reason)
            measure = reason.get("measure")
            if measure is not None:
                seen["directional"] += 1
                quantiles = np.asarray(reference[measure["feature"]]["quantiles"])
                value, median = measure["value"], quantiles[50]
                if measure["adverse"] == "high":
                    assert value > median, reason
                    true_share = float(QUANTILE_GRID[np.searchsorted(quantiles, value) - 1])
                else:
                    assert value < median, reason
                    j = np.searchsorted(quantiles, value, side="right")
                    true_share = float(1 - QUANTILE_GRID[j])
                assert measure["share"] <= true_share + 1e-12  # never overstated
                assert f"{measure['share']:.0%}" in reason["fact"]
        # Percentage points of the families add up to PD minus the base PD.
        points = family_points(
            decision.family_totals, base_value=decision.base_value, logit=decision.logit
        )
        base_pd = 1 / (1 + math.exp(-decision.base_value))
        assert sum(p["points"] for p in points) / 100 == pytest.approx(
            decision.probability_of_default - base_pd, abs=1e-9
        )
        # The age rule: aged 62+, the age family never raises the risk.
        age = -application["row"]["DAYS_BIRTH"] / 365.25
        if age >= 62:
            seen["aged_62"] += 1
            age_sum = sum(c["contribution"] for c in registry.decision_contributions(decision)
                          if c.get("family") == "age")  # fmt: skip
            assert age_sum <= 1e-9
            seen["neutralised"] += decision.age_neutralised > 0
        else:
            assert decision.age_neutralised == 0
    # The checks above ran on every kind of case, not on an empty set.
    assert seen["reasons"] > APPLICANTS and seen["directional"] > 100, seen
    assert seen["no_history_applicants"] > 500 and seen["no_history_reason"] > 0, seen
    assert seen["not_provided"] > 100 and seen["aged_62"] > 20, seen
    print(seen)


def test_the_age_rule_takes_off_exactly_what_age_added(trained_model) -> None:
    """An applicant aged 62+ whose age family would raise the risk: the amount is taken
    off the logit and recorded; the explanation still adds up."""
    scorer = registry.verified_scorer(trained_model)
    found = 0
    for days in range(-22700, -25600, -150):  # 62 to 70 years old
        for ext in (0.2, 0.5, 0.8):
            result = scorer.score_one({"AMT_INCOME_TOTAL": 90000.0, "AMT_CREDIT": 300000.0,
                                       "DAYS_BIRTH": days, "EXT_SOURCE_2": ext})  # fmt: skip
            age = [c for c in result.contributions if c["family"] == "age"]
            assert sum(c["contribution"] for c in age) <= 1e-12
            total = result.base_value + sum(c["contribution"] for c in result.contributions)
            assert total == pytest.approx(result.logit, abs=1e-9)
            if result.age_neutralised > 0:
                found += 1
                item = next(c for c in age if c["feature"] == "AGE_RULE_62_PLUS")
                assert item["contribution"] == pytest.approx(-result.age_neutralised)
    print({"neutralised": found})


def test_the_model_page_shows_how_often_the_age_rule_applied(client, trained_model) -> None:
    figures = trained_model.metrics["age_rule"]
    assert figures["held_out_aged_62_plus"] > 0
    assert 0 <= figures["held_out_neutralised"] <= figures["held_out_aged_62_plus"]
    admin = UserFactory(roles=["model_admin"])
    client.force_login(admin)
    html = client.get(f"/models/{trained_model.version}/").content.decode()
    section = html[html.index('id="age-rule-figures"') :]
    assert f"<strong>{figures['held_out_aged_62_plus']}</strong> were aged 62" in section
    assert f"applied to <strong>{figures['held_out_neutralised']}</strong>" in section


def test_the_readme_example_gets_a_decision_whose_reasons_are_true(trained_model) -> None:
    """The README's payload, sent as written: a decision, and its reasons pass the checks."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    payload = json.loads(re.search(r"-d '(\{\"AMT_INCOME_TOTAL.*?\})'", readme, re.S).group(1))
    # Minimal: what the active (`test`) model requires, and the identity document's date the
    # demo's `fast` model (trained on generated data) requires besides.
    required = set(registry.input_contract().required)
    assert required <= set(payload) and set(payload) - required <= {"DAYS_ID_PUBLISH"}
    officer = UserFactory(roles=["loan_officer"])
    client = APIClient()
    client.force_authenticate(officer)
    response = client.post("/api/v1/applications/?wait=true", payload, format="json")
    assert response.status_code == 201, response.json()
    decision = Decision.objects.get(application_id=response.json()["id"])
    history_families = {"bureau", "previous_application", "installments_payments",
                        "POS_CASH_balance", "credit_card_balance", "bureau_balance"}  # fmt: skip
    group_inputs = _group_inputs()
    for reason in decision.reasons:
        assert reason["fact"]
        if reason["family"] in ("not_provided", "no_history"):
            continue
        for feature in reason["features"]:
            assert group_inputs[feature] & set(payload), (feature, reason)
            assert not group_inputs[feature] & history_families, reason
        if "measure" in reason:
            assert reason["measure"]["share"] >= 0.5
