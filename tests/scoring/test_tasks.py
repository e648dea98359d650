"""Scoring tasks in process: one decision per application whatever the deliveries, declared
retries for transient errors only, FAILED with the reason, and the sweeper."""

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from applicants.models import LoanApplication
from applicants.services.submit import application_submit
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import decide, registry, tasks
from scoring.models import Decision, ModelVersion
from tests.factories import minimal_application

ROW = minimal_application(
    AMT_INCOME_TOTAL=135000,
    AMT_CREDIT=900000,
    AMT_ANNUITY=45000,
    DAYS_BIRTH=-11000,
    DAYS_EMPLOYED=-400,
    EXT_SOURCE_1=None,
    EXT_SOURCE_2=0.31,
    EXT_SOURCE_3=0.22,
)
pytestmark = pytest.mark.django_db


def submitted(actor) -> LoanApplication:
    application, _ = application_submit(
        actor=actor, channel="api", application_row=dict(ROW), enqueue=False
    )
    return application


def events(action, application) -> int:
    return AuditEvent.objects.filter(action=action, target_id=str(application.pk)).count()


def test_submitting_queues_scoring_after_commit_and_decides_once(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        application, _ = application_submit(actor=officer, channel="web", application_row=dict(ROW))
    assert len(callbacks) == 1
    application.refresh_from_db()
    assert application.status == LoanApplication.Status.DECIDED and application.attempts == 1
    decision = Decision.objects.get(application=application)
    assert decision.model_version == trained_model and decision.policy.version == 1
    assert decision.reasons and all(reason["text"] for reason in decision.reasons)
    total = decision.base_value + sum(decision.family_totals.values())
    assert abs(total - decision.logit) <= 1e-9
    every = registry.decision_contributions(decision)
    assert abs(decision.base_value + sum(c["contribution"] for c in every) - decision.logit) <= 1e-9
    assert events(AuditAction.APPLICATION_SUBMITTED, application) == 1
    decided = AuditEvent.objects.get(action=AuditAction.APPLICATION_DECIDED)
    assert decided.payload["after"]["outcome"] == decision.outcome
    assert decided.payload["model_version"] == trained_model.version


def test_a_duplicate_task_stops_and_a_redelivery_carries_on_its_own_claim(officer, trained_model):
    application = submitted(officer)

    def worker_dies(application_id):
        raise SystemExit("worker killed after its claim")

    with pytest.raises(SystemExit):
        decide.application_decide(
            application_id=application.pk, task_id="task-1", on_claimed=worker_dies
        )
    application.refresh_from_db()
    assert (application.status, application.scoring_claim) == ("SCORING", "task-1")
    # Another task (a duplicate message) stops at the claim.
    assert decide.application_decide(application_id=application.pk, task_id="task-2") is None
    assert not Decision.objects.exists()
    # The same task redelivered (same id) carries on and decides.
    tasks.score_application.apply(args=[application.pk], task_id="task-1")
    application.refresh_from_db()
    assert application.status == "DECIDED" and application.attempts == 2
    # Any later delivery, of either task, changes nothing.
    tasks.score_application.apply(args=[application.pk], task_id="task-1")
    tasks.score_application.apply(args=[application.pk], task_id="task-2")
    assert Decision.objects.filter(application=application).count() == 1
    assert events(AuditAction.APPLICATION_DECIDED, application) == 1


def test_the_unique_decision_is_the_final_guard(officer, trained_model) -> None:
    application = submitted(officer)
    decision = decide.application_decide(application_id=application.pk, task_id="t")
    assert decision is not None
    # Even a row forced back into a claim (as if two tasks had both claimed it) cannot get a
    # second decision: the one-to-one key refuses it and the transaction writes nothing.
    LoanApplication.objects.filter(pk=application.pk).update(status="SCORING", scoring_claim="t")
    assert decide.application_decide(application_id=application.pk, task_id="t") is None
    assert Decision.objects.filter(application=application).count() == 1
    assert events(AuditAction.APPLICATION_DECIDED, application) == 1


def test_a_task_for_a_vanished_application_logs_and_returns(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="scoring.tasks"):
        result = tasks.score_application.apply(args=[987654321])
    assert result.successful()
    assert "no longer exists" in caplog.text


def test_retries_are_declared_for_transient_errors_only() -> None:
    task = tasks.score_application
    assert task.autoretry_for == decide.TRANSIENT_ERRORS
    assert OperationalError in task.autoretry_for and ValueError not in task.autoretry_for
    assert task.retry_backoff == settings.CREDSCOPE_SCORING_RETRY_BACKOFF
    assert task.retry_backoff_max == settings.CREDSCOPE_SCORING_RETRY_BACKOFF_MAX
    assert task.retry_jitter is True
    assert task.max_retries == settings.CREDSCOPE_SCORING_MAX_RETRIES
    assert task.ignore_result is True


def test_a_transient_error_is_retried_and_after_the_last_retry_the_application_fails(
    officer, trained_model, monkeypatch
) -> None:
    """The one test that replaces the scorer: a database that keeps dropping connections."""
    application = submitted(officer)
    calls = []

    def database_down(**kwargs):
        calls.append(kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(registry, "score_records", database_down)
    # Eager retries re-apply the task; let each attempt's failure stay in its result.
    monkeypatch.setitem(tasks.score_application.app.conf, "task_eager_propagates", False)
    result = tasks.score_application.apply(args=[application.pk], task_id="flaky", throw=False)
    assert result.failed()
    application.refresh_from_db()
    expected_attempts = settings.CREDSCOPE_SCORING_MAX_RETRIES + 1
    assert len(calls) == expected_attempts and application.attempts == expected_attempts
    assert application.status == "FAILED"
    assert "retries exhausted" in application.failure_reason
    assert "OperationalError: server closed the connection" in application.failure_reason
    failed = AuditEvent.objects.get(action=AuditAction.APPLICATION_FAILED)
    assert failed.payload["before"] == {"status": "SCORING"}
    assert not Decision.objects.exists()


def test_a_non_transient_error_fails_at_once_with_the_reason(officer, trained_model) -> None:
    application = submitted(officer)
    # A real fault, not a stand-in: the active version's bundle is not on disk.
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.create(
        version="missing-bundle",
        status="active",
        profile="fast",
        bundle_path="/nonexistent",
        feature_count=1,
    )
    result = tasks.score_application.apply(args=[application.pk], task_id="doomed", throw=False)
    assert result.failed()
    application.refresh_from_db()
    assert application.status == "FAILED" and application.attempts == 1
    assert application.failure_reason.startswith("error after 1 attempt(s): RegistryError")
    assert events(AuditAction.APPLICATION_FAILED, application) == 1


def test_the_sweeper_frees_dead_claims_and_requeues_what_waits(officer, trained_model) -> None:
    dead = submitted(officer)
    long_ago = timezone.now() - timedelta(hours=2)
    LoanApplication.objects.filter(pk=dead.pk).update(
        status="SCORING", scoring_claim="dead-worker", scoring_claimed_at=long_ago
    )
    lost = submitted(officer)
    LoanApplication.objects.filter(pk=lost.pk).update(updated_at=long_ago)
    fresh = submitted(officer)

    report = tasks.requeue_stuck_applications.apply().get()

    assert report["released_claims"] == [dead.pk]
    assert sorted(report["requeued"]) == sorted([dead.pk, lost.pk])
    for application in (dead, lost):
        application.refresh_from_db()
        assert application.status == "DECIDED"
    fresh.refresh_from_db()
    assert fresh.status == "SUBMITTED"  # too recent: its own task may still be on its way
    released = AuditEvent.objects.get(action=AuditAction.APPLICATION_REQUEUED)
    assert released.target_id == str(dead.pk)
    assert released.payload["released_claim"] == "dead-worker"
    assert Decision.objects.count() == 2


def test_the_sweeper_frees_a_dead_workers_claims_within_two_minutes_under_beat() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stuck-applications"]
    assert entry["task"] == "scoring.tasks.requeue_stuck_applications"
    assert entry["schedule"] == 30
    # A lease not renewed for the claim timeout is dead; the next sweep frees it.
    assert settings.CREDSCOPE_SCORING_CLAIM_TIMEOUT + entry["schedule"] <= 120
    assert settings.CREDSCOPE_SCORING_LEASE_RENEW <= settings.CREDSCOPE_SCORING_CLAIM_TIMEOUT / 3
