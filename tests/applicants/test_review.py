"""Manual review: an override is stored beside the model's decision, audited, and only once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from applicants.selectors import review_queue
from applicants.services.review import OverrideRefused, decision_override_record
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import Decision, DecisionOverride
from tests.factories import DecisionFactory, LoanApplicationFactory

JUSTIFICATION = "Salary slips for 3 years verified; employer confirmed the contract."


@pytest.fixture
def referred(officer) -> Decision:
    return DecisionFactory(application__created_by=officer, outcome="REFER")


@pytest.mark.django_db
def test_override_is_stored_beside_the_decision_with_its_audit_event(officer, referred) -> None:
    before = Decision.objects.values().get(pk=referred.pk)

    override = decision_override_record(
        decision=referred, outcome="APPROVE", justification=f"  {JUSTIFICATION} ", reviewer=officer
    )

    assert override.outcome == "APPROVE"
    assert override.justification == JUSTIFICATION
    assert override.reviewer == officer
    # The model's decision is untouched, field for field.
    assert Decision.objects.values().get(pk=referred.pk) == before
    event = AuditEvent.objects.get(action=AuditAction.DECISION_OVERRIDDEN)
    assert event.actor == officer
    assert (event.target_type, event.target_id) == (
        "applicants.loanapplication",
        str(referred.application_id),
    )
    assert event.payload["before"] == {"outcome": "REFER"}
    assert event.payload["after"] == {"outcome": "APPROVE"}
    assert event.payload["justification"] == JUSTIFICATION
    assert event.payload["decision_id"] == referred.pk
    assert trail.verify().intact


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["APPROVE", "REJECT"])
def test_a_non_refer_decision_cannot_be_overridden(officer, outcome) -> None:
    decision = DecisionFactory(application__created_by=officer, outcome=outcome)
    with pytest.raises(OverrideRefused, match="Only referred decisions"):
        decision_override_record(
            decision=decision, outcome="REJECT", justification=JUSTIFICATION, reviewer=officer
        )
    assert not DecisionOverride.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).exists()


@pytest.mark.django_db
def test_a_decision_is_overridden_only_once(officer, referred) -> None:
    decision_override_record(
        decision=referred, outcome="REJECT", justification=JUSTIFICATION, reviewer=officer
    )
    with pytest.raises(OverrideRefused, match="already been reviewed"):
        decision_override_record(
            decision=referred, outcome="APPROVE", justification=JUSTIFICATION, reviewer=officer
        )
    assert DecisionOverride.objects.get().outcome == "REJECT"
    assert AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "justification", "message"),
    [
        ("APPROVE", "", "justification"),
        ("APPROVE", "   ok   ", "justification"),
        ("REFER", JUSTIFICATION, "approve or reject"),
        ("MAYBE", JUSTIFICATION, "approve or reject"),
    ],
)
def test_outcome_and_justification_are_mandatory(
    officer, referred, outcome, justification, message
) -> None:
    with pytest.raises(OverrideRefused, match=message):
        decision_override_record(
            decision=referred, outcome=outcome, justification=justification, reviewer=officer
        )
    assert not DecisionOverride.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["compliance", "model_admin"])
def test_roles_without_the_permission_are_refused(request, referred, persona) -> None:
    with pytest.raises(OverrideRefused, match="may not override"):
        decision_override_record(
            decision=referred,
            outcome="APPROVE",
            justification=JUSTIFICATION,
            reviewer=request.getfixturevalue(persona),
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_racing_leave_exactly_one_override(officer) -> None:
    decision = DecisionFactory(application__created_by=officer, outcome="REFER")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def review(outcome: str) -> None:
        barrier.wait()
        try:
            decision_override_record(
                decision=decision, outcome=outcome, justification=JUSTIFICATION, reviewer=officer
            )
            results.append("ok")
        except OverrideRefused:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=review, args=(o,)) for o in ("APPROVE", "REJECT")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused"]
    assert DecisionOverride.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).count() == 1


@pytest.mark.django_db
def test_review_queue_holds_only_open_refer_decisions_oldest_first(officer, other_officer) -> None:
    from applicants.selectors import application_list_for

    first = DecisionFactory(application__created_by=officer, outcome="REFER")
    second = DecisionFactory(application__created_by=officer, outcome="REFER")
    DecisionFactory(application__created_by=officer, outcome="APPROVE")
    DecisionFactory(application__created_by=other_officer, outcome="REFER")
    LoanApplicationFactory(created_by=officer)  # not decided yet
    reviewed = DecisionFactory(application__created_by=officer, outcome="REFER")
    decision_override_record(
        decision=reviewed, outcome="APPROVE", justification=JUSTIFICATION, reviewer=officer
    )

    queue = review_queue(applications=application_list_for(user=officer))
    assert list(queue) == [first, second]
