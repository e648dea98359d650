"""A real task travels through Redis to a real worker process and its result comes back."""

import pytest

from audits import trail
from audits.actions import AuditAction

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


def test_worker_verifies_the_audit_trail_and_returns_the_result(celery_worker_process) -> None:
    from audits.tasks import verify_audit_trail

    events = [trail.record(action=AuditAction.TRAIL_VERIFIED, payload={"i": i}) for i in range(3)]
    async_result = verify_audit_trail.delay()
    result = async_result.get(timeout=60)
    assert async_result.status == "SUCCESS"
    assert result == {
        "intact": True,
        "checked": 3,
        "head_hash": events[-1].hash,
        "first_break": None,
    }


def test_celery_defaults_do_not_lose_work() -> None:
    from credscope_site.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert "audits.tasks.verify_audit_trail" in app.tasks
