"""Model oversight: promotion with a reason, champion and challenger, policy what-if, drift.

The promotion and challenger tests use the real model trained on the real sample; the
comparison and what-if arithmetic uses decisions built with known PDs.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from applicants.models import LoanOutcome
from applicants.services import batch_intake
from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site.celery import app as celery_app
from scoring import challenger as challengers
from scoring import decide, drift, oversight, registry, tasks
from scoring.challenger import challenger_decisions_score
from scoring.models import ChallengerScore, Decision, DriftReport, ModelVersion
from scoring.policy import current_policy
from tests.factories import (
    DecisionFactory,
    LoanApplicationFactory,
    ModelVersionFactory,
    with_required_columns,
)

HEADER = "NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,AMT_ANNUITY,DAYS_BIRTH,EXT_SOURCE_2"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def second_version(trained_model, version: str = "second", **fields) -> ModelVersion:
    """Another registered version on the same verified bundle (a real, loadable one)."""
    return ModelVersion.objects.create(
        version=version,
        profile="test",
        bundle_path=trained_model.bundle_path,
        feature_count=trained_model.feature_count,
        metrics=trained_model.metrics,
        auc=trained_model.auc,
        **fields,
    )


def varied_csv(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for _ in range(rows):
        income = round(float(rng.uniform(60_000, 400_000)), 2)
        credit = round(income * float(rng.uniform(1, 6)), 2)
        lines.append(
            f"Cash loans,{income},{credit},{round(credit / 20, 2)},"
            f"{int(rng.integers(-25_000, -7_500))},{rng.uniform(0.05, 0.85):.3f}"
        )
    return with_required_columns("\n".join(lines))


# --- promotion ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_activation_by_api_needs_a_reason_and_audits_both_versions(
    trained_model, model_admin, compliance, officer
) -> None:
    second_version(trained_model)
    url = "/api/v1/models/second/activate/"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = api(model_admin).post(url, body, format="json")
        assert response.status_code == 400, body
        assert "reason" in response.json()["errors"]
    assert registry.active_model_version() == trained_model
    assert api(officer).post(url, {"reason": "r"}, format="json").status_code == 403
    assert api(compliance).post(url, {"reason": "r"}, format="json").status_code == 403
    assert api().post(url, {"reason": "r"}, format="json").status_code in (401, 403)
    assert (
        api(model_admin)
        .post("/api/v1/models/nope/activate/", {"reason": "r"}, format="json")
        .status_code
        == 404
    )

    response = api(model_admin).post(url, {"reason": "better KS on last month"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"
    event = AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATED).latest("sequence")
    assert event.payload["reason"] == "better KS on last month"
    assert event.payload["before"] == [trained_model.version]
    assert event.payload["after"] == "second"
    assert event.payload["rollback"] is False and event.actor == model_admin


@pytest.mark.django_db
def test_the_promotion_page_compares_and_refuses_without_a_reason(
    client, trained_model, model_admin, compliance
) -> None:
    second_version(trained_model, status="retired")
    client.force_login(compliance)
    assert client.get("/models/second/activate/").status_code == 403
    client.force_login(model_admin)
    page = client.get("/models/second/activate/").content.decode()
    assert "Roll back to" in page and "promotion-comparison" in page
    assert trained_model.version in page  # the active version, beside the candidate
    assert "Fairness at the policy" in page

    refused = client.post("/models/second/activate/", {"reason": "  "})
    assert refused.status_code == 400
    assert "Write the reason for this change" in refused.content.decode()
    assert registry.active_model_version() == trained_model

    done = client.post("/models/second/activate/", {"reason": "rollback: drift"})
    assert done.status_code == 302
    assert registry.active_model_version().version == "second"
    event = AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATED).latest("sequence")
    assert event.payload["rollback"] is True and event.payload["reason"] == "rollback: drift"


# --- champion and challenger ----------------------------------------------------------------------


@pytest.mark.django_db
def test_challenger_api_sets_and_clears_with_audit_per_role(
    trained_model, model_admin, compliance, officer
) -> None:
    second_version(trained_model)
    url = "/api/v1/models/second/challenger/"
    for user in (officer, compliance, None):
        assert api(user).post(url).status_code in (401, 403)
        assert api(user).get(url).status_code in (401, 403)
    refused = api(model_admin).post(f"/api/v1/models/{trained_model.version}/challenger/")
    assert (
        refused.status_code == 400
        and "cannot challenge itself" in refused.json()["errors"]["version"]
    )
    assert api(model_admin).post(url).status_code == 200
    assert challengers.challenger_model_version().version == "second"
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_CHALLENGER_SET).count() == 1
    assert api(model_admin).delete(url).status_code == 204
    assert challengers.challenger_model_version() is None
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_CHALLENGER_CLEARED).count() == 1
    assert api(model_admin).delete(url).status_code == 400  # not the challenger any more


@pytest.mark.django_db
def test_with_a_challenger_200_live_decisions_leave_200_challenger_scores(
    trained_model, officer, model_admin, django_capture_on_commit_callbacks
) -> None:
    challenger = second_version(trained_model)
    challengers.model_version_challenger_set(version="second", actor=model_admin)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(
            actor=officer, filename="live.csv", content=varied_csv(200)
        )
    batch.refresh_from_db()
    assert batch.status == "done"
    decisions = Decision.objects.filter(application__batch=batch)
    assert decisions.count() == 200
    scores = ChallengerScore.objects.filter(model_version=challenger)
    assert scores.count() == 200
    assert set(scores.values_list("decision_id", flat=True)) == set(
        decisions.values_list("pk", flat=True)
    )
    # Same bundle, same policy: the challenger agrees everywhere, reasons included.
    for score in scores.select_related("decision")[:20]:
        assert score.probability_of_default == pytest.approx(
            score.decision.probability_of_default, abs=1e-9
        )
        assert score.outcome == score.decision.outcome
        assert [r["code"] for r in score.reasons] == [r["code"] for r in score.decision.reasons]
    comparison = api(model_admin).get("/api/v1/models/second/challenger/").json()
    assert comparison["decisions"] == 200 and comparison["agreement"] == 1.0
    assert sum(sum(row["cells"]) for row in comparison["matrix"]) == 200
    # Officers see the champion's decision only.
    assert (
        "challenger"
        not in str(
            api(officer).get(f"/api/v1/applications/{decisions[0].application_id}/").json()
        ).lower()
    )


@pytest.mark.django_db
def test_one_challenger_task_scores_a_burst_in_bulk_and_the_next_finds_nothing(
    trained_model, officer, model_admin, django_capture_on_commit_callbacks
) -> None:
    challenger = second_version(trained_model)
    challengers.model_version_challenger_set(version="second", actor=model_admin)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        batch_intake.batch_create(actor=officer, filename="b.csv", content=varied_csv(5))
    # The batch's own task is among the callbacks; run it, holding back the challenger's.
    with django_capture_on_commit_callbacks(execute=False) as shadow:
        for callback in queued:
            callback()
    assert Decision.objects.count() == 5 and len(shadow) == 1
    first = Decision.objects.order_by("pk").first()
    stored = challenger_decisions_score(decision_ids=[first.pk], version="second")
    assert stored == 5
    assert ChallengerScore.objects.filter(model_version=challenger).count() == 5
    assert challenger_decisions_score(decision_ids=[first.pk], version="second") == 0


@pytest.mark.django_db
def test_without_a_challenger_nothing_is_scored_twice(
    trained_model, officer, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        batch_intake.batch_create(actor=officer, filename="a.csv", content=varied_csv(5))
    assert Decision.objects.count() == 5 and not ChallengerScore.objects.exists()


@pytest.mark.django_db
def test_the_comparison_counts_agreement_matrix_shift_and_approval_change() -> None:
    champion = ModelVersionFactory(version="champ", status="active")
    challenger = ModelVersionFactory(version="chall", is_challenger=True)
    pairs = [  # champion (pd, outcome) -> challenger (pd, outcome)
        ((0.05, "APPROVE"), (0.04, "APPROVE")),
        ((0.05, "APPROVE"), (0.12, "REFER")),
        ((0.12, "REFER"), (0.06, "APPROVE")),
        ((0.30, "REJECT"), (0.31, "REJECT")),
    ]
    for (pd, outcome), (cpd, coutcome) in pairs:
        _challenger_scored(champion, challenger, pd, outcome, cpd, coutcome)
    result = oversight.challenger_comparison(model_version=challenger)
    assert result["decisions"] == 4 and result["agreement"] == 0.5
    matrix = {row["champion"]: row["cells"] for row in result["matrix"]}
    assert matrix == {"APPROVE": [1, 1, 0], "REFER": [1, 0, 0], "REJECT": [0, 0, 1]}
    assert result["approval_rate"] == {"champion": 0.5, "challenger": 0.5, "change": 0.0}
    assert sum(result["pd_shift"]["counts"]) == 4
    assert result["pd_shift"]["mean"] == pytest.approx((-0.01 + 0.07 - 0.06 + 0.01) / 4)
    # The compliance audit's attributes and verdicts, on four decisions: too few to judge.
    audit = result["fairness"]["challenger"]
    assert [a["label"] for a in audit["attributes"]] == ["Gender", "Age band", "Family status"]
    assert {row["verdict"] for a in audit["attributes"] for row in a["rows"]} <= {
        "too_few",
        "reference",
    }
    assert result["realized"]["rows"] == 0  # no loan outcome recorded


@pytest.mark.celery_worker
@pytest.mark.slow
def test_a_real_worker_scores_the_challenger_on_its_own_queue(
    celery_worker_process, trained_model, model_admin, settings
) -> None:
    # The worker serves only its test queue; the challenger's queue is pointed at it.
    settings.CREDSCOPE_CHALLENGER_QUEUE = celery_worker_process.queue
    challenger = second_version(trained_model)
    challengers.model_version_challenger_set(version="second", actor=model_admin)
    applications = [LoanApplicationFactory() for _ in range(3)]
    for application in applications:
        decide.application_decide(application_id=application.pk, task_id=f"t-{application.pk}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if ChallengerScore.objects.filter(model_version=challenger).count() == 3:
            break
        time.sleep(0.5)
    scores = ChallengerScore.objects.filter(model_version=challenger)
    assert scores.count() == 3
    assert set(scores.values_list("decision__application_id", flat=True)) == {
        a.pk for a in applications
    }


# --- policy what-if ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_policy_preview_replays_recent_decisions(model_admin, officer, compliance) -> None:
    for pd in (0.02, 0.05, 0.09, 0.15, 0.30):
        DecisionFactory(probability_of_default=pd)
    url = "/api/v1/policies/preview/"
    response = api(model_admin).get(url, {"approve_below": 0.1, "reject_from": 0.2})
    assert response.status_code == 200
    body = response.json()
    assert body["decisions"] == 5
    assert body["rates"] == {"approve": 0.6, "refer": 0.2, "reject": 0.2}
    assert body["expected_default_rate_approved"] == pytest.approx((0.02 + 0.05 + 0.09) / 3)
    assert body["thresholds"]["reject_at_or_above"] == 0.2
    only_two = api(model_admin).get(url, {"approve_below": 0.1, "last": 2}).json()
    assert only_two["decisions"] == 2
    bad = api(model_admin).get(url, {"approve_below": 0.3, "reject_from": 0.2})
    assert bad.status_code == 400 and "reject_from" in bad.json()["errors"]
    assert api(model_admin).get(url, {"approve_below": "x"}).status_code == 400
    for user in (officer, compliance, None):
        assert api(user).get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_policy_page_previews_then_saves_a_new_audited_version(client, model_admin) -> None:
    for pd in (0.02, 0.05, 0.30):
        DecisionFactory(probability_of_default=pd)
    client.force_login(model_admin)
    form = {
        "very_low_below": 3,
        "low_below": 6,
        "medium_below": 12,
        "high_below": 25,
        "approve_below": 10,
        "reject_at_or_above": 20,
        "note": "looser approvals",
        "last": 10000,
    }
    preview = client.post("/models/policy/", {**form, "preview": ""})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Effect on the last 3 decisions" in page and "66.7%" in page  # 2 of 3 approved
    assert current_policy().version == 1  # a preview saves nothing
    wrong = client.post("/models/policy/", {**form, "reject_at_or_above": 5, "save": ""})
    assert wrong.status_code == 400 and current_policy().version == 1
    saved = client.post("/models/policy/", {**form, "save": ""})
    assert saved.status_code == 302
    policy = current_policy()
    assert policy.version == 2 and policy.approve_below == pytest.approx(0.10)
    assert AuditEvent.objects.filter(action=AuditAction.POLICY_CREATED).count() == 1


@pytest.mark.django_db
def test_policy_page_is_read_only_for_compliance(client, compliance, officer) -> None:
    client.force_login(officer)
    assert client.get("/models/policy/").status_code == 403
    client.force_login(compliance)
    page = client.get("/models/policy/").content.decode()
    assert "save-button" not in page
    form = {
        "very_low_below": 3, "low_below": 6, "medium_below": 12, "high_below": 25,
        "approve_below": 10, "reject_at_or_above": 20, "save": "",
    }  # fmt: skip
    assert client.post("/models/policy/", form).status_code == 403


# --- drift and the dashboard ----------------------------------------------------------------


@pytest.mark.django_db
def test_drift_of_a_version_without_reference_says_so(client, model_admin) -> None:
    model = ModelVersionFactory(version="old-bundle", status="active", metrics={})
    DecisionFactory(model_version=model)
    status = oversight.drift_status(model_version=model)
    assert status["reference"] is False and status["rows"] == 1
    client.force_login(model_admin)
    assert "Not computed yet" in client.get("/").content.decode()
    drift.drift_report_record()
    page = client.get("/").content.decode()
    assert "No reference" in page and "old-bundle" in page


@pytest.mark.django_db
def test_drift_from_live_decisions_against_the_bundle_reference(
    trained_model, officer, django_capture_on_commit_callbacks, client, model_admin
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        batch_intake.batch_create(actor=officer, filename="d.csv", content=varied_csv(60))
    status = oversight.drift_status(model_version=trained_model)
    assert status["reference"] is True and status["rows"] == 60
    assert status["score"]["psi"] is not None and status["features"]
    assert 0 < status["expected_default_rate"] < 1 and 0.5 <= status["expected_auc"] <= 1
    assert status["realized"]["rows"] == 0
    client.force_login(model_admin)
    # On demand: the button on the tile stores a report, and the page shows it.
    response = client.post("/models/oversight/drift/")
    assert response.status_code == 302
    stored = DriftReport.objects.get()
    assert stored.trigger == DriftReport.Trigger.ON_DEMAND and stored.requested_by == model_admin
    assert stored.rows == 60 and stored.model_version == trained_model
    page = client.get("/models/oversight/").content.decode()
    assert "Drift by feature" in page and "Score PSI" in page
    assert f"{stored.report['score']['psi']:.3f}" in page
    assert "No outcomes recorded yet" in page


@pytest.mark.django_db
def test_drift_on_demand_is_for_model_admins_and_compliance(
    client, officer, compliance, model_admin
) -> None:
    ModelVersionFactory(version="m", status="active", metrics={})
    client.force_login(officer)
    assert client.post("/models/oversight/drift/").status_code == 403
    assert client.get("/models/oversight/drift/").status_code in (403, 405)
    client.logout()
    assert client.post("/models/oversight/drift/").status_code in (302, 403)
    assert not DriftReport.objects.exists()
    client.force_login(compliance)
    assert client.post("/models/oversight/drift/").status_code == 302
    assert DriftReport.objects.get().requested_by == compliance


@pytest.mark.django_db
def test_the_weekly_task_stores_a_report_that_the_pages_then_read(client, model_admin) -> None:
    """The beat entry names a registered task; running it stores the active model's report,
    and the dashboard tile shows that stored report (not a fresh computation)."""
    entry = settings.CELERY_BEAT_SCHEDULE["drift-weekly"]
    assert entry["task"] == tasks.compute_weekly_drift.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].day_of_week == {1}  # weekly, on Mondays
    assert tasks.compute_weekly_drift.delay().get() is None  # no active model, nothing stored
    assert not DriftReport.objects.exists()

    model = ModelVersionFactory(version="weekly", status="active", metrics={})
    for _ in range(3):
        DecisionFactory(model_version=model)
    report_id = tasks.compute_weekly_drift.delay().get()
    stored = DriftReport.objects.get(pk=report_id)
    assert stored.trigger == DriftReport.Trigger.SCHEDULE and stored.requested_by is None
    assert stored.rows == 3 and stored.report["version"] == "weekly"
    # Decisions made after the check do not change what the tile shows until the next one.
    DecisionFactory(model_version=model)
    client.force_login(model_admin)
    page = client.get("/").content.decode()
    assert "Weekly schedule check of" in page and "weekly" in page
    assert drift.latest_drift_report(model_version=model) == stored


@pytest.mark.django_db
def test_realized_performance_reads_recorded_outcomes(model_admin) -> None:
    """Realized figures come from `LoanOutcome` rows, beside what the PDs expected."""
    champion = ModelVersionFactory(version="champ", status="active", metrics={})
    challenger = ModelVersionFactory(version="chall", is_challenger=True)
    rows = [  # (champion pd, outcome, challenger pd, challenger outcome, loan outcome)
        (0.03, "APPROVE", 0.02, "APPROVE", "repaid"),
        (0.04, "APPROVE", 0.20, "REJECT", "defaulted"),
        (0.06, "APPROVE", 0.05, "APPROVE", "repaid"),
        (0.09, "APPROVE", 0.30, "REJECT", "defaulted"),
        (0.02, "APPROVE", 0.01, "APPROVE", None),  # not recorded: not counted
    ]
    for pd, outcome, cpd, coutcome, loan in rows:
        decision = _challenger_scored(champion, challenger, pd, outcome, cpd, coutcome)
        if loan:
            LoanOutcome.objects.create(
                application=decision.application,
                outcome=loan,
                observed_at=date(2026, 11, 1),
                recorded_by=model_admin,
            )
    realized = oversight.challenger_comparison(model_version=challenger)["realized"]
    assert realized["rows"] == 4
    champ, chall = realized["champion"], realized["challenger"]
    assert champ["default_rate"] == chall["default_rate"] == 0.5  # the same loans
    assert champ["approved_rows"] == 4 and champ["approved_default_rate"] == 0.5
    assert chall["approved_rows"] == 2 and chall["approved_default_rate"] == 0.0
    # The challenger ranks both defaulters above both repayers; the champion mixes them.
    assert chall["roc_auc"] == 1.0 and champ["roc_auc"] == pytest.approx(0.75)
    assert champ["expected_default_rate"] == pytest.approx((0.03 + 0.04 + 0.06 + 0.09) / 4)
    status = oversight.drift_status(model_version=champion)
    assert status["realized"]["rows"] == 4 and status["realized"]["defaulted"] == 2


def _challenger_scored(champion, challenger, pd, outcome, cpd, coutcome) -> Decision:
    """A decision of `champion` (PD, outcome) that `challenger` scored (cpd, coutcome)."""
    decision = DecisionFactory(model_version=champion, probability_of_default=pd, outcome=outcome)
    ChallengerScore.objects.create(
        decision=decision,
        model_version=challenger,
        probability_of_default=cpd,
        risk_band="LOW",
        outcome=coutcome,
        scoring_latency_ms=1.0,
    )
    return decision
