"""Four eyes through the REST API: the review queue and overrides, per role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import DecisionOverride
from tests.applicants.test_api import _fresh_throttles, client_for  # noqa: F401 (autouse)
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db
JUSTIFICATION = "Two years of bank statements show stable income; approved on review."
QUEUE = "/api/v1/review-queue/"


def override_url(application_id: int) -> str:
    return f"/api/v1/applications/{application_id}/override/"


@pytest.fixture
def referred(officer):
    return DecisionFactory(application__created_by=officer, outcome="REFER")


@pytest.mark.parametrize(
    ("persona", "status"),
    [("reviewer", 200), ("senior_reviewer", 200), ("officer", 403), ("compliance", 403),
     ("model_admin", 403), (None, 401)],
)  # fmt: skip
def test_the_review_queue_is_for_reviewers(request, referred, persona, status) -> None:
    user = request.getfixturevalue(persona) if persona else None
    response = client_for(user).get(QUEUE)
    assert response.status_code == status
    if status == 200:
        [item] = response.json()["results"]
        assert item["application_id"] == referred.application_id
        assert item["submitted_by"] == "officer" and item["outcome"] == "REFER"


def test_the_queue_spans_officers_but_not_the_callers_own(officer, other_officer, reviewer) -> None:
    first = DecisionFactory(application__created_by=officer, outcome="REFER")
    second = DecisionFactory(application__created_by=other_officer, outcome="REFER")
    DecisionFactory(application__created_by=reviewer, outcome="REFER")
    DecisionFactory(application__created_by=officer, outcome="APPROVE")
    ids = [i["application_id"] for i in client_for(reviewer).get(QUEUE).json()["results"]]
    assert ids == [first.application_id, second.application_id]


def test_a_valid_two_person_override_answers_201_with_both_names(
    officer, reviewer, referred
) -> None:
    response = client_for(reviewer).post(
        override_url(referred.application_id),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["submitted_by"] == "officer" and body["reviewer"] == "reviewer"
    assert (body["model_outcome"], body["outcome"]) == ("REFER", "APPROVE")
    assert body["justification"] == JUSTIFICATION
    assert DecisionOverride.objects.get().reviewer == reviewer
    assert client_for(reviewer).get(QUEUE).json()["results"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "APPROVE"}, "justification"),
        ({"outcome": "APPROVE", "justification": "  "}, "justification"),
        ({"outcome": "APPROVE", "justification": "too short"}, "justification"),
        ({"justification": JUSTIFICATION}, "outcome"),
        ({"outcome": "REFER", "justification": JUSTIFICATION}, "outcome"),
    ],
)
def test_missing_or_bad_fields_answer_400_naming_the_field(reviewer, referred, body, field):
    response = client_for(reviewer).post(override_url(referred.application_id), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not DecisionOverride.objects.exists()


def test_a_self_override_answers_403_and_is_audited(officer, referred) -> None:
    officer.groups.add(Group.objects.get(name="credit_reviewer"))
    response = client_for(officer).post(
        override_url(referred.application_id),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
        format="json",
    )
    assert response.status_code == 403
    assert "a second person must decide (four eyes)" in response.json()["detail"]
    assert not DecisionOverride.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.DECISION_OVERRIDE_REFUSED)
    assert event.actor == officer and event.payload["reason"] == "own_application"


def test_reject_to_approve_needs_a_senior_reviewer(officer, reviewer, senior_reviewer) -> None:
    rejected = DecisionFactory(application__created_by=officer, outcome="REJECT")
    body = {"outcome": "APPROVE", "justification": JUSTIFICATION}
    refused = client_for(reviewer).post(override_url(rejected.application_id), body, format="json")
    assert refused.status_code == 403
    assert "needs a senior credit reviewer" in refused.json()["detail"]
    done = client_for(senior_reviewer).post(
        override_url(rejected.application_id), body, format="json"
    )
    assert done.status_code == 201
    assert (done.json()["model_outcome"], done.json()["reviewer"]) == ("REJECT", "senior")
    reasons = AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDE_REFUSED)
    assert [e.payload["reason"] for e in reasons] == ["senior_required"]


def test_an_application_not_awaiting_review_answers_409(officer, reviewer, referred) -> None:
    approved = DecisionFactory(application__created_by=officer, outcome="APPROVE")
    scoring = LoanApplicationFactory(created_by=officer, status="SCORING")
    body = {"outcome": "REJECT", "justification": JUSTIFICATION}
    client = client_for(reviewer)
    for application_id in (approved.application_id, scoring.pk):
        response = client.post(override_url(application_id), body, format="json")
        assert response.status_code == 409, application_id
        assert "not awaiting review" in response.json()["detail"]
    assert (
        client.post(override_url(referred.application_id), body, format="json").status_code == 201
    )
    again = client.post(override_url(referred.application_id), body, format="json")
    assert again.status_code == 409 and "already decided it" in again.json()["detail"]


@pytest.mark.parametrize(
    ("persona", "status"),
    [("officer", 403), ("other_officer", 404), ("compliance", 403), ("model_admin", 403),
     (None, 401)],
)  # fmt: skip
def test_other_roles_cannot_override(request, referred, persona, status) -> None:
    user = request.getfixturevalue(persona) if persona else None
    response = client_for(user).post(
        override_url(referred.application_id),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
        format="json",
    )
    assert response.status_code == status
    assert not DecisionOverride.objects.exists()
