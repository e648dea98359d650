"""Fairness audits over real decisions: the selector, the run, the snapshot and sign-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from audits import fairness_services
from audits.actions import AuditAction
from audits.models import AuditEvent, FairnessAudit
from tests.audits.fairness_support import Cohort, make_decisions

pytestmark = pytest.mark.django_db


def run_audit(user, django_capture_on_commit_callbacks, **inputs) -> FairnessAudit:
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        audit = fairness_services.fairness_audit_request(
            actor=user,
            date_from=inputs.pop("date_from", today - timedelta(days=1)),
            date_to=inputs.pop("date_to", today),
            **inputs,
        )
    audit.refresh_from_db()
    return audit


def test_known_disparity_in_stored_decisions_fails(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(
        officer=officer,
        cohorts=[Cohort(500, 300, gender="F"), Cohort(500, 200, gender="M")],
    )
    audit = run_audit(compliance, django_capture_on_commit_callbacks, attributes=["CODE_GENDER"])
    assert audit.status == FairnessAudit.Status.DONE
    gender = audit.snapshot["figures"]["attributes"]["CODE_GENDER"]
    male = gender["groups"]["Male"]
    assert gender["reference"] == "Female"
    assert male["n"] == 500
    assert male["adverse_impact_ratio"] == pytest.approx(0.667, abs=5e-4)
    assert male["p_value"] < 0.05
    assert male["verdict"] == "fail"
    assert gender["verdict"] == "fail"
    assert audit.verdict == "fail"
    assert audit.snapshot["inputs"]["attributes"] == ["CODE_GENDER"]
    assert audit.snapshot["model_versions"] == ["fairness-test-model"]


def test_twenty_per_group_in_stored_decisions_is_too_few(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(officer=officer, cohorts=[Cohort(20, 12, gender="F"), Cohort(20, 8, gender="M")])
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    male = audit.snapshot["figures"]["attributes"]["CODE_GENDER"]["groups"]["Male"]
    assert male["verdict"] == "too_few"
    assert male["n"] == 20


def test_age_family_overrides_and_outcomes_come_from_the_stored_rows(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(
        officer=officer,
        cohorts=[
            Cohort(
                40,
                20,
                days_birth=-23 * 365 - 30,
                family_status="Single / not married",
                referred=10,
                overridden_up=1,
                overridden_down=4,
                record_outcomes=True,
                defaulted=range(0, 40, 4),
            ),
            Cohort(
                40,
                30,
                days_birth=-63 * 365,
                family_status="Married",
                referred=6,
                overridden_up=3,
                record_outcomes=True,
                defaulted=(30, 31),
            ),
        ],
    )
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    attributes = audit.snapshot["figures"]["attributes"]
    assert attributes["AGE_BAND"]["order"] == ["<25", "62+"]  # jsonb keeps no key order
    assert set(attributes["NAME_FAMILY_STATUS"]["groups"]) == {"Married", "Single / not married"}
    young = attributes["AGE_BAND"]["overrides"]["<25"]
    assert (young["referred"], young["up"], young["down"]) == (10, 1, 4)
    # Final outcomes count the overrides: 20 model approvals + 1 approved on review.
    assert attributes["AGE_BAND"]["final"]["groups"]["<25"]["approved"] == 21
    assert attributes["AGE_BAND"]["model"]["groups"]["<25"]["approved"] == 20
    outcomes = attributes["AGE_BAND"]["outcomes"]["final"]
    assert outcomes["n"] == 80
    assert outcomes["groups"]["<25"]["defaulted"] == 10
    assert outcomes["groups"]["62+"]["observed_default_rate"] == pytest.approx(2 / 40)


def test_filters_narrow_the_decisions(officer, compliance, django_capture_on_commit_callbacks):
    make_decisions(officer=officer, cohorts=[Cohort(30, 20)])
    audit = run_audit(compliance, django_capture_on_commit_callbacks, channel="batch")
    assert audit.snapshot["figures"]["totals"]["decisions"] == 0
    audit = run_audit(compliance, django_capture_on_commit_callbacks, channel="web")
    assert audit.snapshot["figures"]["totals"]["decisions"] == 30
    long_ago = timezone.localdate() - timedelta(days=400)
    audit = run_audit(
        compliance,
        django_capture_on_commit_callbacks,
        date_from=long_ago,
        date_to=long_ago + timedelta(days=30),
    )
    assert audit.snapshot["figures"]["totals"]["decisions"] == 0


def test_the_snapshot_hash_is_in_the_trail_and_sign_off_is_audited(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(officer=officer, cohorts=[Cohort(60, 30)])
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    assert audit.snapshot_sha256 == fairness_services.snapshot_sha256(audit.snapshot)
    completed = AuditEvent.objects.get(
        action=AuditAction.FAIRNESS_AUDIT_COMPLETED, target_id=str(audit.pk)
    )
    assert completed.payload["snapshot_sha256"] == audit.snapshot_sha256
    signed = fairness_services.fairness_audit_sign_off(
        audit=audit, actor=compliance, comment="Reviewed with the credit committee."
    )
    assert signed.signed_off_by == compliance
    event = AuditEvent.objects.get(action=AuditAction.FAIRNESS_AUDIT_SIGNED_OFF)
    assert event.actor == compliance
    assert event.payload["snapshot_sha256"] == audit.snapshot_sha256
    assert event.payload["comment"] == "Reviewed with the credit committee."


def test_a_signed_audit_cannot_be_changed_by_the_service(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(officer=officer, cohorts=[Cohort(60, 30)])
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    fairness_services.fairness_audit_sign_off(
        audit=audit, actor=compliance, comment="Looked at it all."
    )
    with pytest.raises(fairness_services.FairnessAuditRefused, match="cannot be changed"):
        fairness_services.fairness_audit_sign_off(
            audit=audit, actor=compliance, comment="Second thoughts."
        )
    # Running it again does nothing: the snapshot stays.
    assert fairness_services.fairness_audit_run(audit_id=audit.pk) is None
    audit.refresh_from_db()
    assert audit.sign_off_comment == "Looked at it all."


@pytest.mark.parametrize(
    ("persona", "comment", "message"),
    [
        ("officer", "A long enough comment.", "may not sign off"),
        ("model_admin", "A long enough comment.", "may not sign off"),
        ("compliance", "short", "at least 10 characters"),
    ],
)
def test_sign_off_refusals(
    request, officer, compliance, django_capture_on_commit_callbacks, persona, comment, message
) -> None:
    make_decisions(officer=officer, cohorts=[Cohort(30, 20)])
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    with pytest.raises(fairness_services.FairnessAuditRefused, match=message):
        fairness_services.fairness_audit_sign_off(
            audit=audit, actor=request.getfixturevalue(persona), comment=comment
        )
    audit.refresh_from_db()
    assert audit.signed_off_at is None


def test_request_validation(compliance) -> None:
    today = timezone.localdate()
    with pytest.raises(fairness_services.FairnessAuditInvalid) as error:
        fairness_services.fairness_audit_request(
            actor=compliance, date_from=today, date_to=today - timedelta(days=1), attributes=["X"]
        )
    assert set(error.value.errors) == {"date_to", "attributes"}
    assert FairnessAudit.objects.count() == 0


def test_monthly_audit_covers_the_previous_month(officer) -> None:
    from datetime import date

    audit = fairness_services.fairness_audit_monthly(today=date(2026, 3, 15))
    assert (audit.date_from, audit.date_to) == (date(2026, 2, 1), date(2026, 2, 28))
    assert audit.requested_by is None
    assert audit.status == FairnessAudit.Status.DONE


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_snapshot_or_a_signed_audit(
    officer, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(officer=officer, cohorts=[Cohort(30, 20)])
    audit = run_audit(compliance, django_capture_on_commit_callbacks)
    with pytest.raises(DatabaseError, match="snapshot is immutable"), transaction.atomic():
        FairnessAudit.objects.filter(pk=audit.pk).update(snapshot={"figures": "forged"})
    with pytest.raises(DatabaseError, match="snapshot is immutable"), transaction.atomic():
        FairnessAudit.objects.filter(pk=audit.pk).update(snapshot_sha256="0" * 64)
    fairness_services.fairness_audit_sign_off(
        audit=audit, actor=compliance, comment="Signed for Q1 board."
    )
    with pytest.raises(DatabaseError, match="signed audit cannot be changed"), transaction.atomic():
        FairnessAudit.objects.filter(pk=audit.pk).update(sign_off_comment="edited")
    with pytest.raises(DatabaseError, match="cannot be deleted"), transaction.atomic():
        FairnessAudit.objects.filter(pk=audit.pk).delete()
    audit.refresh_from_db()
    assert fairness_services.snapshot_intact(audit)
    assert audit.sign_off_comment == "Signed for Q1 board."


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_broker_outage_fails_the_audit_with_its_reason(compliance, monkeypatch) -> None:
    from kombu.exceptions import OperationalError

    from credscope_site.celery import app

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    saved, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        today = timezone.localdate()
        audit = fairness_services.fairness_audit_request(
            actor=compliance, date_from=today, date_to=today
        )
    finally:
        app.conf.task_always_eager = saved
    audit.refresh_from_db()
    assert audit.status == FairnessAudit.Status.FAILED
    assert "task queue was unavailable" in audit.failure_reason
    actions = list(
        AuditEvent.objects.filter(target_id=str(audit.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [AuditAction.FAIRNESS_AUDIT_REQUESTED, AuditAction.FAIRNESS_AUDIT_FAILED]
