"""The Celery app. Configuration comes from Django settings (the CELERY_* names)."""

import os
import sys
from pathlib import Path

from celery import Celery
from django.conf import settings

from credscope_site.config import ConfigurationError, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.local")

app = Celery("credscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _load_settings_or_exit() -> None:
    """Fail a worker or beat start-up on a bad environment with one line, not a traceback."""
    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now
    except ConfigurationError as error:
        exit_on_configuration_error(error)


# Only the `celery` program loads settings here; web processes load them through Django.
if Path(sys.argv[0]).name == "celery" or sys.argv[0].endswith("celery/__main__.py"):
    _load_settings_or_exit()
