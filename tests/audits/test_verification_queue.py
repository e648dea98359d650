"""Asking for a chain verification when the task queue is down: the run fails with a reason
the compliance user can act on, whichever error the broker's client raises."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from audits import services
from audits.models import ChainVerificationRun
from credscope_site.celery import app


@pytest.mark.parametrize(
    "refusal",
    [
        OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ],
    ids=["kombu", "redis"],
)
@pytest.mark.django_db
def test_a_broker_outage_fails_the_verification_run_with_its_reason(
    refusal, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def broker_down(*args, **kwargs):
        raise refusal

    monkeypatch.setattr(app, "send_task", broker_down)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = services.verification_run_request(user=None)
    finally:
        app.conf.task_always_eager = eager

    run.refresh_from_db()
    assert run.status == ChainVerificationRun.Status.FAILED
    assert run.verdict == "The task queue is unavailable; try again in a few minutes."
    assert run.finished_at is not None
