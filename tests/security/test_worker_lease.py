"""A killed worker's applications are back in the queue within two minutes (probe item 11:
they waited 11 minutes for a 660 s claim timeout), and exactly one decision is made.

The claim is a lease the worker renews while it scores (scoring/lease.py). Here the lease is
short (6 s, renewed every 2 s) so the test runs in seconds; the defaults (45 s, every 15 s,
swept every 30 s) are checked in tests/scoring/test_tasks.py.
"""

from __future__ import annotations

import signal
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from applicants.models import LoanApplication
from applicants.services.submit import application_submit
from scoring import sweeper
from scoring.lease import ClaimLease
from scoring.models import Decision
from tests.conftest import WorkerProcess
from tests.factories import LoanApplicationFactory
from tests.scoring.test_worker_resilience import (
    ROW,
    forget_queue,
    status_of,
    wait_for,
    wait_until_finished,
    worker_env,
)

LEASE = timedelta(seconds=6)


def sweep() -> sweeper.RequeueReport:
    return sweeper.stuck_applications_requeue(older_than=timedelta(hours=1), claim_older_than=LEASE)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_lease_is_renewed_while_its_block_runs_and_only_then(officer) -> None:
    mine = LoanApplicationFactory(created_by=officer, status="SCORING", scoring_claim="task-a")
    other = LoanApplicationFactory(created_by=officer, status="SCORING", scoring_claim="task-b")
    start = timezone.now() - timedelta(minutes=5)
    LoanApplication.objects.update(scoring_claimed_at=start)
    with ClaimLease(task_id="task-a", every=0.2):
        time.sleep(0.7)
    renewed = LoanApplication.objects.get(pk=mine.pk).scoring_claimed_at
    assert renewed > start + timedelta(minutes=4)
    assert LoanApplication.objects.get(pk=other.pk).scoring_claimed_at == start
    time.sleep(0.5)  # stopped: no renewal after the block
    assert LoanApplication.objects.get(pk=mine.pk).scoring_claimed_at == renewed


@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_live_workers_claim_is_kept_and_a_dead_ones_freed_after_the_lease(
    officer,
    trained_model,
    sending_to,
    tmp_path,
) -> None:
    queue = f"credscope-test-{uuid.uuid4().hex[:8]}"
    gate = f"credscope-test-gate-{uuid.uuid4().hex[:8]}"
    shared = redis.Redis.from_url(settings.REDIS_URL)
    lease_env = {
        "CREDSCOPE_SCORING_CLAIM_TIMEOUT": str(int(LEASE.total_seconds())),
        "CREDSCOPE_SCORING_LEASE_RENEW": "2",
    }
    doomed = WorkerProcess(
        queue,
        worker_env(
            redis_url=settings.REDIS_URL, queue=queue, CREDSCOPE_SCORING_TEST_GATE=gate, **lease_env
        ),
        tmp_path / "doomed.log",
    )
    replacement = WorkerProcess(
        queue,
        worker_env(redis_url=settings.REDIS_URL, queue=queue, **lease_env),
        tmp_path / "replacement.log",
    )
    try:
        doomed.start()
        sending_to(queue)
        application, _ = application_submit(actor=officer, channel="api", application_row=ROW)
        claimed = shared.blpop([f"{gate}:claimed"], timeout=60)
        assert claimed is not None, (tmp_path / "doomed.log").read_text()[-3000:]

        # Alive and holding the claim for longer than the lease: the sweeper leaves it.
        time.sleep(LEASE.total_seconds() + 3)
        assert sweep().released_claims == []
        assert status_of(application.pk) == "SCORING"

        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: sweep().released_claims == [application.pk], 30, "the claim freed")
        freed_after = time.monotonic() - killed_at
        # Freed once the lease ran out: at most the lease and a renewal period after the kill.
        # (The sweep runs here; the replacement starts after, so its start-up, which loads
        # and warms the model, is not counted against the lease.)
        assert freed_after <= LEASE.total_seconds() + 4, freed_after
        replacement.start()

        wait_until_finished(application.pk, "the replacement to decide")
        assert Decision.objects.filter(application_id=application.pk).count() == 1
    finally:
        doomed.kill()
        replacement.stop()
        forget_queue(shared, queue)
        shared.delete(f"{gate}:claimed", f"{gate}:open")
