"""Handing a task to the workers by its name: the one way every app enqueues work.

Services name the task instead of importing it, so the import graph points one way
(services -> this module; the worker imports the tasks). With a broker the message is
published; with none (the embedded default and most tests run Celery eagerly) the task is
looked up in Celery's registry and run in this process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from celery import current_app
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

#: What a broker that is down or unreachable raises when a message is published.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)

_discovered = threading.Event()


def runs_in_process() -> bool:
    """True when no broker is configured and tasks run eagerly, here."""
    return bool(current_app.conf.task_always_eager)


def task_send(task_name: str, args: Sequence[Any] = (), **options: Any) -> None:
    """Publish `task_name(*args)` with Celery's `options` (queue, countdown, ...).

    Raises one of `BROKER_ERRORS` when the broker refuses the message. In process, the task
    runs now; it records its own failures on the object it works on, so an exception from it
    is logged here, not raised into the caller's request.
    """
    if runs_in_process():
        try:
            registered_task(task_name).apply(args=list(args))
        except Exception:
            logger.exception("in-process %s%r failed", task_name, tuple(args))
        return
    # No caller reads a result: subscribing to one would touch the result backend, and a
    # Redis outage would surface there as a RuntimeError instead of here.
    options.setdefault("ignore_result", True)
    current_app.send_task(task_name, args=list(args), **options)


def registered_task(task_name: str):
    """The task registered under `task_name`, importing the apps' task modules (Celery's
    autodiscovery, not an import here) the first time one is needed."""
    app = current_app
    if task_name not in app.tasks and not _discovered.is_set():
        app.loader.import_default_modules()
        _discovered.set()
    return app.tasks[task_name]
