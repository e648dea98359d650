"""Scoring claims are leases, renewed while the task that holds them runs.

A task claims applications by writing its id into `scoring_claim` and the time into
`scoring_claimed_at`. While it scores, a heartbeat thread of the worker moves that time
forward every CREDSCOPE_SCORING_LEASE_RENEW seconds; a worker that dies (SIGKILL, a lost
machine, the hard time limit) stops renewing, and once CREDSCOPE_SCORING_CLAIM_TIMEOUT has
passed without renewal the sweeper frees its claims. So a dead worker's applications wait
about the lease plus one sweep interval (well under two minutes), not the old 11 minutes.

Exactly-once does not rest on the lease: a decision is saved only for rows still SCORING
under the saving task's claim (see `scoring.decide`), so even a claim freed from a live but
stalled task cannot lead to two decisions.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.utils import timezone

from applicants.models import LoanApplication

logger = logging.getLogger(__name__)


def claim_lease_renew(*, task_id: str) -> int:
    """Move the claim time of every row this task holds to now; how many rows it holds."""
    return LoanApplication.objects.filter(
        status=LoanApplication.Status.SCORING, scoring_claim=task_id
    ).update(scoring_claimed_at=timezone.now())


class ClaimLease:
    """`with ClaimLease(task_id=...):` renews the task's claims in a daemon thread until the
    block ends. The thread has its own database connection and closes it when done."""

    def __init__(self, *, task_id: str, every: float | None = None) -> None:
        self.task_id = task_id
        self.every = settings.CREDSCOPE_SCORING_LEASE_RENEW if every is None else every
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"claim-lease-{task_id[:8]}", daemon=True
        )

    def __enter__(self) -> ClaimLease:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    claim_lease_renew(task_id=self.task_id)
                except Exception:  # a database hiccup: the next beat tries again
                    logger.warning("could not renew the claims of task %s", self.task_id,
                                   exc_info=True)  # fmt: skip
        finally:
            connection.close()
