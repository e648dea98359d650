"""Manual review under four eyes: an override is a second person's, stored beside the model's
decision with both names, audited, and only once; every refused attempt is audited too."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from applicants.selectors import override_report, review_queue_for
from applicants.services.review import (
    OverrideInvalid,
    OverrideRefused,
    decision_override_record,
)
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import Decision, DecisionOverride
from tests.factories import DecisionFactory, LoanApplicationFactory, UserFactory

JUSTIFICATION = "Salary slips for 3 years verified; employer confirmed the contract."


@pytest.fixture
def referred(officer) -> Decision:
    return DecisionFactory(application__created_by=officer, outcome="REFER")


def override(decision, reviewer, outcome="APPROVE", justification=JUSTIFICATION):
    return decision_override_record(
        decision=decision, outcome=outcome, justification=justification, reviewer=reviewer
    )


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDE_REFUSED))


@pytest.mark.django_db
def test_a_second_persons_override_is_stored_beside_the_decision_with_both_names(
    officer, reviewer, referred
) -> None:
    before = Decision.objects.values().get(pk=referred.pk)

    stored = override(referred, reviewer, justification=f"  {JUSTIFICATION} ")

    assert (stored.outcome, stored.justification, stored.reviewer) == (
        "APPROVE", JUSTIFICATION, reviewer,
    )  # fmt: skip
    assert stored.decision.application.created_by == officer
    # The model's decision is untouched, field for field.
    assert Decision.objects.values().get(pk=referred.pk) == before
    event = AuditEvent.objects.get(action=AuditAction.DECISION_OVERRIDDEN)
    assert event.actor == reviewer
    assert (event.target_type, event.target_id) == (
        "applicants.loanapplication",
        str(referred.application_id),
    )
    assert event.payload["before"] == {"outcome": "REFER"}
    assert event.payload["after"] == {"outcome": "APPROVE"}
    assert event.payload["justification"] == JUSTIFICATION
    assert (event.payload["submitted_by"], event.payload["reviewer"]) == ("officer", "reviewer")
    assert refusals() == [] and trail.verify().intact


@pytest.mark.django_db
def test_the_officer_who_submitted_cannot_override_even_as_a_reviewer(referred, officer) -> None:
    officer.groups.add(*UserFactory(username="x", roles=["credit_reviewer"]).groups.all())
    with pytest.raises(OverrideRefused, match="You submitted or last changed") as refused:
        override(referred, officer)
    assert (refused.value.status, refused.value.code) == (403, "own_application")
    assert not DecisionOverride.objects.exists()
    [event] = refusals()
    assert event.actor == officer and event.payload["reason"] == "own_application"
    assert event.payload["attempted"] == {"outcome": "APPROVE"}
    assert "four eyes" in event.payload["message"]


@pytest.mark.django_db
def test_whoever_last_changed_the_application_cannot_override_it(referred, reviewer) -> None:
    trail.record(action=AuditAction.APPLICATION_REQUEUED, actor=reviewer,
                 target=referred.application)  # fmt: skip
    with pytest.raises(OverrideRefused, match="last changed"):
        override(referred, reviewer)
    # A refused attempt is not a change: another reviewer may still decide.
    other = UserFactory(username="reviewer2", roles=["credit_reviewer"])
    assert override(referred, other).reviewer == other


@pytest.mark.django_db
def test_turning_a_model_reject_into_approve_needs_a_senior_reviewer(
    officer, reviewer, senior_reviewer
) -> None:
    rejected = DecisionFactory(application__created_by=officer, outcome="REJECT",
                               probability_of_default=0.15)  # fmt: skip
    with pytest.raises(OverrideRefused, match="turns the model's rejection into an approval") as e:
        override(rejected, reviewer)
    assert (e.value.status, e.value.code) == (403, "senior_required")
    assert [r.payload["reason"] for r in refusals()] == ["senior_required"]
    with pytest.raises(OverrideRefused, match="already rejected by the model") as e:
        override(rejected, senior_reviewer, outcome="REJECT")
    assert e.value.status == 409
    assert override(rejected, senior_reviewer).outcome == "APPROVE"


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["APPROVE", "REJECT"])
def test_overrides_at_or_above_the_senior_pd_need_a_senior_reviewer(
    officer, reviewer, senior_reviewer, settings, outcome
) -> None:
    settings.CREDSCOPE_SENIOR_OVERRIDE_PD = 0.25
    risky = DecisionFactory(application__created_by=officer, outcome="REFER",
                            probability_of_default=0.25)  # fmt: skip
    with pytest.raises(OverrideRefused, match=r"\(25.0%\) is at or above 25.0%"):
        override(risky, reviewer, outcome=outcome)
    assert override(risky, senior_reviewer, outcome=outcome).reviewer == senior_reviewer


@pytest.mark.django_db
def test_an_approved_or_already_reviewed_decision_is_not_awaiting_review(
    officer, reviewer, senior_reviewer, referred
) -> None:
    approved = DecisionFactory(application__created_by=officer, outcome="APPROVE")
    with pytest.raises(OverrideRefused, match="not awaiting review: the policy approved it") as e:
        override(approved, senior_reviewer, outcome="REJECT")
    assert e.value.status == 409
    override(referred, reviewer, outcome="REJECT")
    with pytest.raises(OverrideRefused, match="reviewer already decided it") as e:
        override(referred, senior_reviewer)
    assert e.value.status == 409
    assert DecisionOverride.objects.get().outcome == "REJECT"
    assert AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).count() == 1
    assert [r.payload["reason"] for r in refusals()] == ["not_awaiting_review"] * 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "justification", "field", "message"),
    [
        ("APPROVE", "", "justification", "justification"),
        ("APPROVE", "   ok   ", "justification", "justification"),
        ("REFER", JUSTIFICATION, "outcome", "approve or reject"),
        ("MAYBE", JUSTIFICATION, "outcome", "approve or reject"),
    ],
)
def test_outcome_and_justification_are_mandatory(
    reviewer, referred, outcome, justification, field, message
) -> None:
    with pytest.raises(OverrideInvalid, match=message) as invalid:
        override(referred, reviewer, outcome=outcome, justification=justification)
    assert (invalid.value.status, invalid.value.field) == (400, field)
    assert not DecisionOverride.objects.exists()
    assert refusals() == []  # bad input, not a refused reviewer


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_officer", "compliance", "model_admin"])
def test_roles_without_the_review_permission_are_refused_and_audited(
    request, referred, persona
) -> None:
    user = request.getfixturevalue(persona)
    with pytest.raises(OverrideRefused, match="may not review decisions") as refused:
        override(referred, user)
    assert refused.value.status == 403
    [event] = refusals()
    assert event.actor == user and event.payload["reason"] == "not_reviewer"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_racing_leave_exactly_one_override(officer, reviewer, senior_reviewer):
    decision = DecisionFactory(application__created_by=officer, outcome="REFER")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def review(user, outcome: str) -> None:
        barrier.wait()
        try:
            override(decision, user, outcome=outcome)
            results.append("ok")
        except OverrideRefused:
            results.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=review, args=args)
        for args in ((reviewer, "APPROVE"), (senior_reviewer, "REJECT"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused"]
    assert DecisionOverride.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).count() == 1


@pytest.mark.django_db
def test_the_review_queue_spans_officers_but_never_the_reviewers_own(
    officer, other_officer, reviewer
) -> None:
    first = DecisionFactory(application__created_by=officer, outcome="REFER")
    second = DecisionFactory(application__created_by=other_officer, outcome="REFER")
    DecisionFactory(application__created_by=officer, outcome="APPROVE")
    DecisionFactory(application__created_by=officer, outcome="REJECT")  # appeals: not queued
    LoanApplicationFactory(created_by=officer)  # not decided yet
    own = DecisionFactory(application__created_by=reviewer, outcome="REFER")
    reviewed = DecisionFactory(application__created_by=officer, outcome="REFER")
    override(reviewed, reviewer)

    assert list(review_queue_for(user=reviewer)) == [first, second]
    # Another reviewer's queue holds the one the first reviewer submitted.
    assert own in review_queue_for(user=UserFactory(username="r2", roles=["credit_reviewer"]))
    assert list(review_queue_for(user=officer)) == []  # officers do not review


@pytest.mark.django_db
def test_the_override_report_counts_directions_and_shares_per_officer(
    officer, other_officer, reviewer, senior_reviewer, compliance
) -> None:
    for outcome in ("REFER", "REFER", "REFER", "APPROVE"):
        DecisionFactory(application__created_by=officer, outcome=outcome)
    referred = list(Decision.objects.filter(outcome="REFER"))
    override(referred[0], reviewer, outcome="APPROVE")
    override(referred[1], reviewer, outcome="REJECT")
    rejected = DecisionFactory(application__created_by=other_officer, outcome="REJECT")
    override(rejected, senior_reviewer, outcome="APPROVE")

    report = {row["officer"]: row for row in override_report(user=compliance)}
    assert report["officer"] | {} == {
        "officer": "officer", "decided": 4, "overridden": 2, "share": 0.5,
        "refer_to_approve": 1, "refer_to_reject": 1, "reject_to_approve": 0,
        "reviewed": 0, "reviewed_approve": 0,
    }  # fmt: skip
    assert report["other_officer"]["reject_to_approve"] == 1
    assert report["other_officer"]["share"] == 1.0
    assert (report["reviewer"]["reviewed"], report["reviewer"]["reviewed_approve"]) == (2, 1)
    assert report["senior"]["reviewed"] == 1 and report["senior"]["share"] is None
    assert override_report(user=officer) == [] and override_report(user=reviewer) == []
