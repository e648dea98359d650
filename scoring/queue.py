"""Handing work to the scoring workers: by task name, after commit, with typed refusals.

Services enqueue through these functions and never import `scoring.tasks`, so the import
graph points one way (services -> queue; the worker imports tasks -> decide). When the broker
refuses the message the object is already saved; the typed error carries its id so every
door can tell the person what happened, and the sweeper sends it again later.

With no broker configured (the embedded default), tasks run in this process: the task looked
up by name in Celery's registry is called eagerly. It records its own failures on the row,
so an exception from it is logged, not raised into the caller.
"""

from __future__ import annotations

import logging
import threading

from celery import current_app
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

SCORE_APPLICATION = "scoring.tasks.score_application"
SCORE_BATCH = "scoring.tasks.score_batch"

#: What a broker that is down or unreachable raises when a message is published.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


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


def _send(task_name: str, object_id: int, refused: type[ScoringQueueUnavailable]) -> None:
    app = current_app
    if app.conf.task_always_eager:
        try:
            _registered(task_name).delay(object_id)
        except Exception:  # the in-process task already recorded its failure on the row
            logger.exception("in-process %s(%s) failed", task_name, object_id)
        return
    try:
        # Scoring tasks keep no result: subscribing to one would touch the result backend,
        # and a Redis outage would surface there as a RuntimeError instead of here.
        app.send_task(task_name, args=[object_id], ignore_result=True)
    except BROKER_ERRORS as error:
        logger.warning(
            "broker unavailable, %s %s left for the sweeper: %s", refused.kind, object_id, error
        )
        raise refused(object_id) from error


_discovered = threading.Event()


def _registered(task_name: str):
    """The task object registered under `task_name`, importing the apps' task modules (by
    Celery's autodiscovery, not by an import here) the first time one is needed."""
    app = current_app
    if task_name not in app.tasks and not _discovered.is_set():
        app.loader.import_default_modules()
        _discovered.set()
    return app.tasks[task_name]
