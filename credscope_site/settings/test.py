"""The test suite: local settings with fast hashing; tasks run in process unless a test
starts a real worker and sends to the broker itself."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests with several threads need one database they all see.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-credscope.sqlite3")}  # noqa: F405
