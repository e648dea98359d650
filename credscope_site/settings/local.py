"""Development on one machine: DEBUG on by default, SQLite and in-process tasks unless told."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: F403
