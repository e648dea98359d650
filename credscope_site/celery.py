"""The Celery app. Configuration comes from Django settings (the CELERY_* names)."""

import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

from credscope_site.config import ConfigurationError, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.local")

app = Celery("credscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# A worker keeps its database connection from task to task, as a web process does from
# request to request. Celery's Django fixup closes every connection before and after each
# task unless CELERY_DB_REUSE_MAX is set (see settings): a new PostgreSQL session for every
# chunk and every single application cost its fork, its authentication and its cold caches
# each time. Instead, like Django at each request's start and end, a connection is closed
# only when it is broken, left inside a transaction, or older than CONN_MAX_AGE.
@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(sender=None, **_) -> None:
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # in process: the caller's connection and transaction are not the task's
    close_old_connections()


def _load_settings_or_exit() -> None:
    """Fail a worker or beat start-up on a bad environment with one line, not a traceback."""
    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now
    except ConfigurationError as error:
        exit_on_configuration_error(error)


# Only the `celery` program loads settings here; web processes load them through Django.
if Path(sys.argv[0]).name == "celery" or sys.argv[0].endswith("celery/__main__.py"):
    _load_settings_or_exit()
