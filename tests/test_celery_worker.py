"""A real task travels through Redis to a real worker process and its result comes back."""

import time

import pytest

from audits import services, trail
from audits.actions import AuditAction
from audits.models import AuditEvent, ChainVerificationRun

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


def test_worker_verifies_the_audit_trail_for_a_requested_run(
    celery_worker_process, compliance
) -> None:
    """The trail page's "Verify chain": a run is stored, a real worker fills in the verdict."""
    for i in range(3):
        trail.record(action=AuditAction.APPLICATION_SUBMITTED, payload={"i": i})
    run = services.verification_run_request(user=compliance)
    assert run.status == ChainVerificationRun.Status.PENDING
    deadline = time.monotonic() + 60
    while not run.done and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.status == ChainVerificationRun.Status.INTACT, run.verdict
    assert run.events_checked == 4 and run.head_sequence == 4  # with the request's own event
    assert run.verdict.startswith("intact: 4 event(s)") and run.finished_at >= run.requested_at
    verified = AuditEvent.objects.order_by("-sequence").first()
    assert verified.action == AuditAction.TRAIL_VERIFIED and verified.payload["run_id"] == run.pk


def test_the_nightly_task_through_a_worker_stores_its_own_run(celery_worker_process) -> None:
    from audits.tasks import verify_audit_trail

    trail.record(action=AuditAction.APPLICATION_SUBMITTED)
    result = verify_audit_trail.delay().get(timeout=60)
    run = ChainVerificationRun.objects.get(pk=result["run_id"])
    assert result["status"] == "intact" and run.requested_by is None and run.events_checked == 1


def test_a_worker_keeps_its_database_connection_from_task_to_task(celery_worker_process) -> None:
    """One PostgreSQL session serves the worker's tasks (Celery alone would open one per task)."""
    from django.db import connection

    from audits.tasks import verify_audit_trail

    def sessions() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return {pid for (pid,) in cursor.fetchall()}

    trail.record(action=AuditAction.APPLICATION_SUBMITTED)
    verify_audit_trail.delay().get(timeout=60)
    after_one = sessions()
    for _ in range(3):
        verify_audit_trail.delay().get(timeout=60)
    assert after_one & sessions(), "no session of the worker outlived its task"


def test_celery_defaults_do_not_lose_work() -> None:
    from credscope_site.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert "audits.tasks.verify_audit_trail" in app.tasks
