"""Handing work to the scoring workers: by task name, after commit, with typed refusals.

Services enqueue through these functions and never import `scoring.tasks`, so the import
graph points one way (services -> queue; the worker imports tasks -> decide). When the broker
refuses the message the object is already saved; the typed error carries its id so every
door can tell the person what happened, and the sweeper sends it again later.

Sending by name, in process or to the broker, is `credscope_site.task_queue`'s; this module
adds the scoring tasks' names and what a refusal means for each kind of object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import current_app, group
from django.conf import settings

from credscope_site import task_queue
from credscope_site.task_queue import BROKER_ERRORS

logger = logging.getLogger(__name__)

SCORE_APPLICATION = "scoring.tasks.score_application"
SCORE_BATCH = "scoring.tasks.score_batch"
SCORE_CHALLENGER = "scoring.tasks.score_challenger"
SCORE_BATCH_CHUNK = "scoring.tasks.score_batch_chunk"


class ScoringQueueUnavailable(Exception):
    """The broker refused a scoring task; the object is saved and will be scored later."""

    kind = "object"

    def __init__(self, object_id: int) -> None:
        super().__init__(
            f"the scoring queue is unavailable; {self.kind} {object_id} is saved and will be "
            "scored when the queue is back"
        )
        self.object_id = object_id


class ApplicationQueueUnavailable(ScoringQueueUnavailable):
    """An application was saved (SUBMITTED) but could not be queued."""

    kind = "application"

    @property
    def application_id(self) -> int:
        return self.object_id


class BatchQueueUnavailable(ScoringQueueUnavailable):
    """A batch was saved (QUEUED) but could not be queued."""

    kind = "batch"

    @property
    def batch_id(self) -> int:
        return self.object_id


def application_scoring_enqueue(*, application_id: int) -> None:
    """Queue `score_application(application_id)`; call it after commit.

    Raises `ApplicationQueueUnavailable` when the broker cannot take it.
    """
    _send(SCORE_APPLICATION, application_id, ApplicationQueueUnavailable)


def batch_scoring_enqueue(*, batch_id: int) -> None:
    """Queue `score_batch(batch_id)`; call it after commit. Raises `BatchQueueUnavailable`."""
    _send(SCORE_BATCH, batch_id, BatchQueueUnavailable)


def challenger_scoring_enqueue(*, decision_ids: list[int], version: str) -> None:
    """Queue the challenger's shadow scoring of saved decisions on its own low-priority
    queue (`CREDSCOPE_CHALLENGER_QUEUE`), which the champion's workers do not serve.

    Best effort: a broker that refuses it is logged, never raised, because the champion's
    decision is already made and must not fail for the challenger's sake.
    """
    try:
        # The short delay lets a burst of decisions be scored by one task, in bulk.
        task_queue.task_send(
            SCORE_CHALLENGER,
            [decision_ids, version],
            queue=settings.CREDSCOPE_CHALLENGER_QUEUE,
            countdown=settings.CREDSCOPE_CHALLENGER_DELAY,
        )
    except Exception:  # shadow scoring never fails the champion's decision
        logger.exception("challenger %s: %d decision(s) not queued", version, len(decision_ids))


def batch_chunks_enqueue(*, batch_id: int, chunks: Sequence[tuple[int, int]]) -> None:
    """Queue one `score_batch_chunk(batch_id, first_row, last_row)` per range, as one Celery
    group, so that every free worker takes a chunk. Raises `BatchQueueUnavailable`; chunks
    sent before the refusal run, and the sweeper plans the rest again."""
    if task_queue.runs_in_process():
        for first_row, last_row in chunks:
            _send(SCORE_BATCH_CHUNK, batch_id, BatchQueueUnavailable, first_row, last_row)
        return
    signatures = [
        current_app.signature(
            SCORE_BATCH_CHUNK, args=[batch_id, first, last], immutable=True, ignore_result=True
        )
        for first, last in chunks
    ]
    try:
        group(signatures).apply_async()
    except BROKER_ERRORS as error:
        logger.warning("broker unavailable, chunks of batch %s left for the sweeper: %s",
                       batch_id, error)  # fmt: skip
        raise BatchQueueUnavailable(batch_id) from error


def _send(
    task_name: str, object_id: int, refused: type[ScoringQueueUnavailable], *more: int
) -> None:
    try:
        task_queue.task_send(task_name, [object_id, *more])
    except BROKER_ERRORS as error:
        logger.warning(
            "broker unavailable, %s %s left for the sweeper: %s", refused.kind, object_id, error
        )
        raise refused(object_id) from error
