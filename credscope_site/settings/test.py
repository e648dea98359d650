"""The test suite: local settings with fast hashing; tasks run in process unless a test
starts a real worker and sends to the broker itself."""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DEBUG", "true")

# Under pytest-xdist (`make test` runs two test processes) each process has a Redis database
# of its own, as pytest-django gives each its own PostgreSQL one: one process's activation
# announcements, leases, gates and queues never reach the other's. Processes a test starts
# inherit the environment, the database number and the mark that it is already chosen.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
_REDIS = urlsplit(os.environ.get("REDIS_URL", ""))
if (
    _XDIST_WORKER[2:].isdigit()
    and _REDIS.scheme in ("redis", "rediss")
    and not os.environ.get("CREDSCOPE_TEST_REDIS_PER_WORKER")
):
    _db = int(_REDIS.path.strip("/") or 0) + 1 + int(_XDIST_WORKER[2:])
    os.environ["REDIS_URL"] = urlunsplit(_REDIS._replace(path=f"/{_db}"))
    os.environ["CREDSCOPE_TEST_REDIS_PER_WORKER"] = "1"

from .base import *  # noqa: E402, F403  (after the environment above is settled)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests with several threads need one database they all see.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-credscope.sqlite3")}  # noqa: F405
