"""Accepting a counteroffer (issue 17): who may, what it creates, that it is linked, audited
and made once, and how the page and the API show it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applicants import four_eyes, selectors
from applicants.models import LoanApplication
from applicants.services.counteroffers import CounterofferRefused, counteroffer_accept
from applicants.services.review import decision_override_record
from applicants.services.submit import application_submit_and_score
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import Decision
from scoring.policy import policy_create
from tests.factories import REQUIRED_EXTRAS

pytestmark = pytest.mark.django_db

#: The test model's required inputs, and an annuity (the term), for every row here.
BASE = {
    **REQUIRED_EXTRAS,
    "NAME_CONTRACT_TYPE": "Cash loans",
    "CODE_GENDER": "F",
    "AMT_INCOME_TOTAL": 180000.0,
    "AMT_CREDIT": 900000.0,
    "AMT_ANNUITY": 45000.0,
    "AMT_GOODS_PRICE": 800000.0,
    "DAYS_BIRTH": -12000,
    "DAYS_EMPLOYED": -800,
    "CNT_FAM_MEMBERS": 2.0,
    "REGION_POPULATION_RELATIVE": 0.02,
}
#: Applicants from weaker to stronger; the test model refers or rejects some of them with
#: a counteroffer (which ones depends on the trained model, so the tests look).
VARIANTS = [
    {"EXT_SOURCE_2": e2, "EXT_SOURCE_3": e3}
    for e2 in (0.35, 0.4, 0.45, 0.5, 0.3, 0.55)
    for e3 in (0.4, 0.5, 0.3, 0.6)
]


def _submit(officer, row: dict[str, Any]) -> LoanApplication:
    application, _ = application_submit_and_score(
        actor=officer, channel=LoanApplication.Channel.WEB, application_row=row, full_name="A. N."
    )
    return LoanApplication.objects.select_related("decision").get(pk=application.pk)


@pytest.fixture
def offered(officer, trained_model) -> LoanApplication:
    """A referred or rejected application with a counteroffer, submitted by `officer`."""
    for variant in VARIANTS:
        application = _submit(officer, {**BASE, **variant})
        decision = application.decision
        if decision.outcome != "APPROVE" and decision.counteroffer["offer"] is not None:
            return application
    pytest.fail("no variant was refused with a counteroffer by the test model")


def test_the_owner_accepts_and_gets_a_linked_approved_application_once(officer, offered) -> None:
    offer = offered.decision.counteroffer["offer"]
    accepted, created = counteroffer_accept(application=offered, actor=officer, channel="web")
    assert created
    accepted = LoanApplication.objects.select_related("decision").get(pk=accepted.pk)
    assert accepted.counteroffer_of_id == offered.pk
    assert accepted.status == "DECIDED" and accepted.decision.outcome == "APPROVE"
    assert accepted.decision.probability_of_default == pytest.approx(
        offer["probability_of_default"], abs=1e-9
    )
    assert float(accepted.amt_credit) == offer["AMT_CREDIT"]
    assert accepted.application_row["AMT_ANNUITY"] == offer["AMT_ANNUITY"]
    # The applicant's own inputs, except the offered amounts.
    for name, value in offered.application_row.items():
        if name not in ("AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"):
            assert accepted.application_row[name] == value
    assert accepted.applicant.full_name == "A. N."

    again, created_again = counteroffer_accept(application=offered, actor=officer, channel="web")
    assert (again.pk, created_again) == (accepted.pk, False)
    assert LoanApplication.objects.filter(counteroffer_of=offered).count() == 1

    # The link is on the audit trail, in the new application's transaction.
    linked = AuditEvent.objects.get(
        action=AuditAction.COUNTEROFFER_ACCEPTED, target_id=str(offered.pk)
    )
    assert linked.payload["accepted_application_id"] == accepted.pk
    assert linked.actor_name == officer.username
    submitted = AuditEvent.objects.get(
        action=AuditAction.APPLICATION_SUBMITTED, target_id=str(accepted.pk)
    )
    assert submitted.payload["counteroffer_of"] == offered.pk
    assert trail.verify().intact


def test_only_the_submitting_officer_may_accept(
    offered, other_officer, compliance, reviewer
) -> None:
    for person in (other_officer, compliance, reviewer):
        with pytest.raises(CounterofferRefused) as refused:
            counteroffer_accept(application=offered, actor=person, channel="web")
        assert refused.value.status == 403
    assert not LoanApplication.objects.filter(counteroffer_of=offered).exists()


def test_no_offer_stands_after_a_review_or_a_policy_change(
    officer, offered, reviewer, senior_reviewer, model_admin
) -> None:
    decision = offered.decision
    policy_create(
        actor=model_admin, very_low_below=0.02, low_below=0.04, medium_below=0.08,
        high_below=0.15, approve_below=0.07, reject_at_or_above=0.25, note="tighter",
    )  # fmt: skip
    with pytest.raises(CounterofferRefused, match="policy in force has changed"):
        counteroffer_accept(application=offered, actor=officer, channel="web")
    decision_override_record(
        decision=decision,
        outcome="REJECT",
        justification="Income could not be verified.",
        reviewer=senior_reviewer if decision.outcome == "REJECT" else reviewer,
    )
    offered = LoanApplication.objects.get(pk=offered.pk)
    with pytest.raises(CounterofferRefused, match="reviewer has decided"):
        counteroffer_accept(application=offered, actor=officer, channel="web")
    assert not LoanApplication.objects.filter(counteroffer_of=offered).exists()


def test_an_approved_application_has_no_counteroffer_and_says_why(officer, trained_model):
    application = _submit(officer, {**BASE, "EXT_SOURCE_2": 0.8, "EXT_SOURCE_3": 0.8})
    assert application.decision.outcome == "APPROVE"
    assert application.decision.counteroffer["offer"] is None
    with pytest.raises(CounterofferRefused, match="approved as submitted"):
        counteroffer_accept(application=application, actor=officer, channel="web")


def test_the_api_shows_the_offer_and_accepts_it_once(officer, other_officer, offered) -> None:
    client = APIClient()
    client.force_authenticate(officer)
    body = client.get(f"/api/v1/applications/{offered.pk}/").json()
    offer = body["decision"]["counteroffer"]
    assert set(offer) == {"AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE", "term_months",
                          "probability_of_default", "outcome", "kind"}  # fmt: skip
    assert offer["outcome"] == "APPROVE" and body["decision"]["counteroffer_reason"]
    assert offer == {k: offered.decision.counteroffer["offer"][k] for k in offer}

    url = f"/api/v1/applications/{offered.pk}/counteroffer/accept/"
    stranger = APIClient()
    stranger.force_authenticate(other_officer)
    assert stranger.post(url).status_code == 404  # another officer's: as if it did not exist

    first = client.post(url)
    assert first.status_code == 201, first.content
    created = first.json()
    assert created["counteroffer_of"] == offered.pk
    assert created["decision"]["outcome"] == "APPROVE"
    assert created["decision"]["counteroffer"] is None
    assert created["decision"]["counteroffer_reason"].startswith("none needed")
    second = client.post(url)
    assert second.status_code == 200 and second.json()["id"] == created["id"]
    original = client.get(f"/api/v1/applications/{offered.pk}/").json()
    assert original["accepted_counteroffer"] == created["id"]


def test_a_batch_row_is_searched_when_first_read(officer, trained_model, client) -> None:
    application = _submit(officer, {**BASE, **VARIANTS[0]})
    # As a batch row is decided: no counteroffer searched yet.
    Decision.objects.filter(application=application).update(counteroffer=None)
    api = APIClient()
    api.force_authenticate(officer)
    listed = api.get("/api/v1/applications/").json()["results"][0]
    assert listed["decision"]["counteroffer"] is None
    assert listed["decision"]["counteroffer_reason"].startswith("not searched yet")
    client.force_login(officer)
    page = client.get(reverse("applicants:detail", args=[application.pk]))
    assert page.status_code == 200
    stored = Decision.objects.get(application=application).counteroffer
    assert stored is not None and stored["reason"]
    assert stored["model_version"] == trained_model.version


def test_the_page_offers_the_button_to_the_owner_only(officer, compliance, offered, client):
    client.force_login(officer)
    page = client.get(reverse("applicants:detail", args=[offered.pk])).content.decode()
    assert 'id="counteroffer-lead"' in page and 'id="accept-counteroffer"' in page
    assert "csrfmiddlewaretoken" in page
    client.force_login(compliance)
    page = client.get(reverse("applicants:detail", args=[offered.pk])).content.decode()
    assert 'id="counteroffer-lead"' in page and 'id="accept-counteroffer"' not in page
    response = client.post(reverse("applicants:counteroffer_accept", args=[offered.pk]))
    assert response.status_code == 403

    client.force_login(officer)
    response = client.post(reverse("applicants:counteroffer_accept", args=[offered.pk]))
    accepted = LoanApplication.objects.get(counteroffer_of=offered)
    assert response.status_code == 302 and response.url.endswith(f"/{accepted.pk}/")
    new_page = client.get(response.url).content.decode()
    assert f"application #{offered.pk}" in new_page and 'id="counteroffer-of"' in new_page
    old_page = client.get(reverse("applicants:detail", args=[offered.pk])).content.decode()
    assert 'id="counteroffer-accepted"' in old_page and 'id="accept-counteroffer"' not in old_page


def test_an_accepted_counteroffer_takes_the_original_out_of_review(
    officer, offered, reviewer, senior_reviewer
) -> None:
    counteroffer_accept(application=offered, actor=officer, channel="web")
    decision = Decision.objects.select_related("application").get(pk=offered.decision.pk)
    assert decision not in selectors.review_queue_for(user=reviewer)
    refusal = four_eyes.override_refusal(
        decision=decision, reviewer=senior_reviewer, outcome="APPROVE"
    )
    assert refusal is not None and refusal.code == "not_awaiting_review"
    assert "counteroffer was accepted" in refusal.message
