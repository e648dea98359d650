"""The decision policy: PD thresholds to bands and outcomes, and versioned changes."""

import pytest
from django.core.exceptions import PermissionDenied

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import DecisionPolicy, Outcome, RiskBand
from scoring.policy import (
    PolicyInvalid,
    current_policy,
    outcome_for,
    policy_apply,
    policy_create,
    risk_band_for,
    threshold_errors,
)

V1 = DecisionPolicy(
    version=1,
    very_low_below=0.03,
    low_below=0.06,
    medium_below=0.12,
    high_below=0.25,
    approve_below=0.08,
    reject_at_or_above=0.25,
)


@pytest.mark.parametrize(
    ("pd", "band"),
    [
        (0.0, RiskBand.VERY_LOW),
        (0.0299, RiskBand.VERY_LOW),
        (0.03, RiskBand.LOW),
        (0.0599, RiskBand.LOW),
        (0.06, RiskBand.MEDIUM),
        (0.12, RiskBand.HIGH),
        (0.2499, RiskBand.HIGH),
        (0.25, RiskBand.VERY_HIGH),
        (1.0, RiskBand.VERY_HIGH),
    ],
)
def test_a_threshold_belongs_to_the_riskier_band(pd, band) -> None:
    assert risk_band_for(pd, V1) == band


@pytest.mark.parametrize(
    ("pd", "outcome"),
    [
        (0.01, Outcome.APPROVE),
        (0.0799, Outcome.APPROVE),
        (0.08, Outcome.REFER),
        (0.2499, Outcome.REFER),
        (0.25, Outcome.REJECT),
        (0.9, Outcome.REJECT),
    ],
)
def test_outcomes_approve_below_refer_between_reject_at_or_above(pd, outcome) -> None:
    assert outcome_for(pd, V1) == outcome
    assert policy_apply(pd, V1).outcome == outcome


@pytest.mark.parametrize("pd", [-0.01, 1.01, float("nan"), float("inf")])
def test_a_probability_outside_0_1_is_refused(pd) -> None:
    with pytest.raises(ValueError, match="within"):
        policy_apply(pd, V1)


def test_threshold_errors_name_each_bad_field() -> None:
    good = {
        "very_low_below": 0.02,
        "low_below": 0.05,
        "medium_below": 0.1,
        "high_below": 0.2,
        "approve_below": 0.07,
        "reject_at_or_above": 0.3,
    }
    assert threshold_errors(good) == {}
    errors = threshold_errors({**good, "low_below": 0.01, "reject_at_or_above": 0.05})
    assert set(errors) == {"low_below", "reject_at_or_above"}
    assert threshold_errors({**good, "high_below": "x"}) == {"high_below": "must be a number"}
    assert "required" in threshold_errors({})["approve_below"]


@pytest.mark.django_db
def test_model_admin_creates_a_new_version_with_an_audit_event(model_admin) -> None:
    before = current_policy()
    policy = policy_create(
        actor=model_admin,
        very_low_below=0.02,
        low_below=0.05,
        medium_below=0.1,
        high_below=0.2,
        approve_below=0.07,
        reject_at_or_above=0.3,
        note="tighter approvals",
    )
    assert policy.version == before.version + 1
    assert current_policy() == policy
    assert DecisionPolicy.objects.get(version=before.version).approve_below == before.approve_below
    event = AuditEvent.objects.get(action=AuditAction.POLICY_CREATED)
    assert event.actor == model_admin and event.target_id == str(policy.pk)
    assert event.payload["before"]["approve_below"] == before.approve_below
    assert event.payload["after"]["approve_below"] == 0.07


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["officer", "compliance"])
def test_only_model_admins_change_the_policy(request, persona) -> None:
    with pytest.raises(PermissionDenied):
        policy_create(
            actor=request.getfixturevalue(persona),
            very_low_below=0.02,
            low_below=0.05,
            medium_below=0.1,
            high_below=0.2,
            approve_below=0.07,
            reject_at_or_above=0.3,
        )
    assert DecisionPolicy.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.POLICY_CREATED).exists()


@pytest.mark.django_db
def test_invalid_thresholds_save_nothing(model_admin) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy_create(
            actor=model_admin,
            very_low_below=0.2,
            low_below=0.1,
            medium_below=0.3,
            high_below=0.4,
            approve_below=0.5,
            reject_at_or_above=0.4,
        )
    assert set(caught.value.errors) == {"low_below", "reject_at_or_above"}
    assert DecisionPolicy.objects.count() == 1
