"""A decision keeps its explanation compactly (issue 15) and its reasons are read from arrays.

Deciding builds no item per group any more: statuses, reasons, family totals and the
largest items come from arrays (`ExplainedRow`), and a decision stores its 25 largest items,
its family totals and its float32 model row, from which every item is recomputed. Over
generated applicants (full rows, thin files, inputs left out), each of these must say what
the items themselves say.
"""

from __future__ import annotations

import importlib
from itertools import islice

import numpy as np
import pytest
from django.apps import apps

from applicants.models import LoanApplication
from applicants.services.submit import application_submit_and_score
from scoring import registry
from scoring.decide import STORED_CONTRIBUTIONS
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.age_rule import AGE_RULE_ITEM
from scoring.ml.serving.explain import family_totals, top_risk_factors
from scoring.ml.synth.clients import client_payload, generated_clients
from scoring.ml.synth.generate import generate
from scoring.models import Decision
from scoring.reasons import reasons_for, reasons_for_explained
from tests.factories import UserFactory, minimal_application

pytestmark = [pytest.mark.django_db]

APPLICANTS = 600
SCALE, SEED = 0.004, 23


def _applications(directory) -> list[dict]:
    """Generated applicants as clients send them; every third without history, every
    fifth with a third of its inputs left out (None), so every status occurs."""
    rng = np.random.default_rng(SEED)
    payloads = (client_payload(row, history) for row, history in generated_clients(directory))
    out = list(islice((p for p in payloads if p is not None), APPLICANTS))
    for i, payload in enumerate(out):
        if i % 3 == 0:
            payload["history"] = None
        if i % 5 == 0:
            for column in list(payload["row"]):
                if column != "SK_ID_CURR" and rng.random() < 0.33:
                    payload["row"][column] = None
    return out


def _expected_status(groups, item, sent: set[str], present: set[str]) -> str:
    """The rule `FeatureGroups.statuses` applies, stated item by item."""
    g = groups.names.index(item["feature"])
    columns, tables = groups.columns[g], groups.tables[g]
    if tables and tables.isdisjoint(present):
        return "no_history"
    if (
        columns
        and not tables
        and (
            item["value"] is None
            or not columns & sent
            or (item["feature"].endswith("_NULLS") and not columns <= sent)
        )
    ):
        return "not_provided"
    return "given"


def test_array_explanations_say_what_their_items_say(tmp_path, trained_model) -> None:
    generate(tmp_path / "synth", SCALE, SEED, "parquet")
    applications = _applications(tmp_path / "synth")
    assert len(applications) == APPLICANTS
    scorer = registry.verified_scorer(trained_model)
    results = scorer.score_many(
        [a["row"] for a in applications], [a["history"] for a in applications]
    )
    seen = {"given": 0, "not_provided": 0, "no_history": 0, "reasons": 0}
    for application, result in zip(applications, results, strict=True):
        explained = result.explained
        items = explained.items()
        sent = {k for k, v in application["row"].items() if v is not None and v == v}
        present = {t for t, n in result.history_rows.items() if n}
        for item in items:
            if item["feature"] == AGE_RULE_ITEM:
                continue
            assert item["status"] == _expected_status(explained.groups, item, sent, present)
            seen[item["status"]] += 1
        reasons = reasons_for_explained(
            explained, history_rows=result.history_rows, measures=result.measures
        )
        assert reasons == reasons_for(
            items, history_rows=result.history_rows, measures=result.measures
        )
        seen["reasons"] += len(reasons)
        totals = explained.family_totals()
        assert totals == family_totals(items)  # the same sums, to the bit
        assert result.base_value + sum(totals.values()) == pytest.approx(result.logit, abs=1e-9)
        by_size = sorted(items, key=lambda item: abs(item["contribution"]), reverse=True)
        assert explained.largest(STORED_CONTRIBUTIONS) == by_size[:STORED_CONTRIBUTIONS]
        assert explained.rising(5) == top_risk_factors(items, k=5)
        stored = np.frombuffer(explained.feature_row.tobytes(), dtype=np.float32)
        again = scorer.explain_stored(stored, application["row"], result.history_rows)
        assert again.items() == items
    # Every kind of item was checked, not an empty set.
    assert min(seen.values()) > APPLICANTS, seen


def test_a_decision_keeps_its_largest_items_and_gives_back_every_one(trained_model) -> None:
    officer = UserFactory(roles=["loan_officer"])
    row = minimal_application(EXT_SOURCE_2=0.79, AMT_GOODS_PRICE=450000.0)
    application, created = application_submit_and_score(
        actor=officer, channel=LoanApplication.Channel.API, application_row=row
    )
    assert created and application.status == LoanApplication.Status.DECIDED
    decision = Decision.objects.select_related("application", "model_version").get(
        application=application
    )
    every = registry.decision_contributions(decision)
    expected = (
        registry.verified_scorer(trained_model).score_one(application.application_row).contributions
    )
    assert every == expected  # recomputed from the stored row: the very items scored
    features = len(registry.verified_scorer(trained_model).feature_names)
    assert len(decision.feature_row) == 4 * features  # float32, as the model reads it
    assert len(decision.contributions) == STORED_CONTRIBUTIONS < len(every)
    assert [c["feature"] for c in decision.contributions] == [
        c["feature"] for c in every[:STORED_CONTRIBUTIONS]
    ]
    for kept, item in zip(decision.contributions, every, strict=False):
        assert kept["contribution"] == pytest.approx(item["contribution"], abs=1e-12)
    assert decision.family_totals == family_totals(every)
    total = decision.base_value + sum(decision.family_totals.values())
    assert total == pytest.approx(decision.logit, abs=1e-9)
    assert set(decision.history_rows) == set(HISTORY_TABLES)


def test_a_decision_made_before_rows_were_kept_keeps_its_whole_list(trained_model) -> None:
    officer = UserFactory(roles=["loan_officer"])
    application, _ = application_submit_and_score(
        actor=officer,
        channel=LoanApplication.Channel.API,
        application_row=minimal_application(),
    )
    decision = Decision.objects.select_related("application", "model_version").get(
        application=application
    )
    every = registry.decision_contributions(decision)
    # As migration 0010 found it: the whole list, no row, no totals yet.
    Decision.objects.filter(pk=decision.pk).update(
        contributions=every, feature_row=None, family_totals={}
    )
    migration = importlib.import_module("scoring.migrations.0010_compact_contributions")
    migration.sum_family_totals(apps, None)
    decision.refresh_from_db()
    assert decision.family_totals == family_totals(every)
    assert registry.decision_contributions(decision) == every
