"""Shared fixtures: personas, the real Home Credit sample, and real services.

Tests marked `postgres`, `redis` or `celery_worker` need those services. Where a service is
absent they skip with the reason; with CREDSCOPE_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("CREDSCOPE_SHARED_DIR", REPO_ROOT.parent / "shared"))
REQUIRE_SERVICES = os.environ.get("CREDSCOPE_REQUIRE_SERVICES") == "1"


def missing(reason: str) -> None:
    """Skip, or fail when the run requires every service and data set."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CREDSCOPE_REQUIRE_SERVICES=1 requires it)", pytrace=False)
    pytest.skip(reason)


def postgres_available() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def redis_available() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    needs_postgres = item.get_closest_marker("postgres") or item.get_closest_marker("celery_worker")
    needs_redis = item.get_closest_marker("redis") or item.get_closest_marker("celery_worker")
    if needs_postgres and not postgres_available():
        missing(
            "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/credscope"
        )
    if needs_redis and not redis_available():
        missing("needs Redis: run with REDIS_URL=redis://127.0.0.1:6379/0 and Redis running")


@pytest.fixture(autouse=True, scope="session")
def flush_past_the_audit_triggers() -> Iterator[None]:
    """Let the suite empty its PostgreSQL test database between transactional tests.

    The audit table refuses TRUNCATE (audits migration 0006), which is how Django flushes.
    The suite connects as a superuser, who may skip triggers for a session, as an operator
    restoring a database would; only this test-database flush does.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture(autouse=True)
def audit_checkpoint_dir(settings, tmp_path) -> Path:
    """Each test's checkpoints in its own directory: the database is rolled back after each
    test, and a checkpoint left by another test would report its events as missing."""
    path = tmp_path / "audit-checkpoints"
    settings.CREDSCOPE_AUDIT_CHECKPOINT_DIR = path
    return path


# --- data -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def home_credit_sample_dir() -> Path:
    """The real Kaggle rows in ../shared (never copied into the repo)."""
    path = SHARED_DIR / "data" / "home_credit_sample"
    if not (path / "application_train.csv.gz").exists():
        missing(f"the real Home Credit sample is not at {path} (set CREDSCOPE_SHARED_DIR)")
    return path


# --- a trained, active model --------------------------------------------------------------------


@pytest.fixture
def trained_model(db, home_credit_sample_dir):
    """A real ensemble (the `test` profile, trained once per run on the real sample),
    registered and activated like `train_model --activate` does."""
    from scoring import registry
    from tests.scoring.ml.ml_support import trained_bundle

    result, _ = trained_bundle(home_credit_sample_dir)
    registry.model_version_register(bundle_path=result.bundle_path, profile="test", trained_by=None)
    return registry.model_version_activate(version=result.version, actor=None)


# --- personas ---------------------------------------------------------------------------------


@pytest.fixture
def officer(db):
    return UserFactory(username="officer", roles=["loan_officer"])


@pytest.fixture
def other_officer(db):
    return UserFactory(username="other_officer", roles=["loan_officer"])


@pytest.fixture
def compliance(db):
    return UserFactory(username="compliance", roles=["compliance"])


@pytest.fixture
def reviewer(db):
    """A credit reviewer: reviews other officers' referred applications (four eyes)."""
    return UserFactory(username="reviewer", roles=["credit_reviewer"])


@pytest.fixture
def senior_reviewer(db):
    return UserFactory(username="senior", roles=["senior_credit_reviewer"])


@pytest.fixture
def model_admin(db):
    return UserFactory(username="model_admin", roles=["model_admin"])


# --- a real Celery worker -----------------------------------------------------------------------


def database_url_of_test_db() -> str:
    from django.db import connection

    cfg = connection.settings_dict
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


class WorkerProcess:
    """A `celery worker` subprocess on its own queue, using the test database."""

    def __init__(self, queue: str, env: dict[str, str], log_path: Path) -> None:
        self.queue = queue
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        from credscope_site.celery import app

        name = f"{self.queue}-{uuid.uuid4().hex[:6]}@localhost"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "credscope_site",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                self.queue,
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early; see {self.log_path}")
            if app.control.ping(destination=[name], timeout=0.5):
                return
        raise RuntimeError(f"celery worker did not answer within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_process(
    django_db_serialized_rollback, transactional_db, tmp_path
) -> Iterator[WorkerProcess]:
    """A real worker process that shares this test's database and Redis.

    Serialized rollback, like every transactional test here: a plain flush would re-create
    content types and groups, which the next serialized test then loads a second time."""
    queue = f"credscope-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.local",
        "DATABASE_URL": database_url_of_test_db(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CREDSCOPE_AUDIT_CHECKPOINT_DIR": str(settings.CREDSCOPE_AUDIT_CHECKPOINT_DIR),
    }
    from credscope_site.celery import app

    worker = WorkerProcess(queue=queue, env=env, log_path=tmp_path / "worker.log")
    worker.start()
    # This process now sends for real, to the worker's queue.
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    try:
        yield worker
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        worker.stop()
