"""Real workers, a real broker and a real web process, and what happens when they die.

1. A worker is SIGKILLed while it scores (held at a known point by a test-only gate on a
   Redis key; the scorer itself is untouched). A new worker starts, the sweeper frees the dead
   claim, and the application ends DECIDED with exactly one decision.
2. The broker goes down (a private redis-server on its own port, so the shared Redis stays
   up): a submission through gunicorn answers 503 and leaves nothing half-written. The broker
   comes back, the sweeper's beat task runs on the worker, and the application is DECIDED.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from applicants.models import Applicant, LoanApplication
from applicants.services.submit import application_submit
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import sweeper
from scoring.models import Decision
from tests.conftest import REPO_ROOT, WorkerProcess, database_url_of_test_db
from tests.factories import DEFAULT_PASSWORD, minimal_application

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ROW = minimal_application()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def worker_env(*, redis_url: str, queue: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.local",
        "DATABASE_URL": database_url_of_test_db(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        **extra,
    }


def status_of(application_id: int) -> str:
    return LoanApplication.objects.values_list("status", flat=True).get(pk=application_id)


def wait_until_finished(application_id: int, what: str) -> None:
    """Until DECIDED (or FAILED, which fails the test with the reason)."""
    wait_for(lambda: status_of(application_id) in ("DECIDED", "FAILED"), 90, what)
    application = LoanApplication.objects.get(pk=application_id)
    assert application.status == "DECIDED", application.failure_reason


@pytest.fixture
def sending_to(tmp_path):
    """Point this process's task sending at a worker queue (and back to in-process after)."""
    from credscope_site.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_default_queue)

    def use(queue: str) -> None:
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue

    yield use
    app.conf.task_always_eager, app.conf.task_default_queue = saved


def forget_queue(client: redis.Redis, queue: str) -> None:
    """Drop what a killed worker left in the shared Redis for this test's queue: its
    unacknowledged message would otherwise come back to an abandoned queue in an hour."""
    for tag, raw in client.hgetall("unacked").items():
        _message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue)


def test_a_worker_killed_mid_scoring_is_replaced_and_decides_exactly_once(
    officer, trained_model, sending_to, tmp_path
) -> None:
    queue = f"credscope-test-{uuid.uuid4().hex[:8]}"
    gate = f"credscope-test-gate-{uuid.uuid4().hex[:8]}"
    shared = redis.Redis.from_url(settings.REDIS_URL)
    doomed = WorkerProcess(
        queue,
        worker_env(redis_url=settings.REDIS_URL, queue=queue, CREDSCOPE_SCORING_TEST_GATE=gate),
        tmp_path / "doomed.log",
    )
    replacement = WorkerProcess(
        queue, worker_env(redis_url=settings.REDIS_URL, queue=queue), tmp_path / "replacement.log"
    )
    try:
        doomed.start()
        sending_to(queue)
        application, _ = application_submit(actor=officer, channel="api", application_row=ROW)

        claimed = shared.blpop([f"{gate}:claimed"], timeout=60)
        assert claimed is not None, (tmp_path / "doomed.log").read_text()[-3000:]
        assert int(claimed[1]) == application.pk
        held = LoanApplication.objects.get(pk=application.pk)
        assert held.status == "SCORING" and held.scoring_claim

        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        assert status_of(application.pk) == "SCORING"  # the dead worker's claim is left behind

        replacement.start()
        # The sweeper frees claims older than the task time limit; here, older than now.
        report = sweeper.stuck_applications_requeue(
            older_than=timedelta(0), claim_older_than=timedelta(0)
        )
        assert report.released_claims == [application.pk] and report.requeued == [application.pk]

        wait_until_finished(application.pk, "the replacement to decide")
        assert Decision.objects.filter(application_id=application.pk).count() == 1
        trail = list(
            AuditEvent.objects.filter(
                target_type="applicants.loanapplication", target_id=str(application.pk)
            )
            .order_by("sequence")
            .values_list("action", flat=True)
        )
        assert trail == [
            AuditAction.APPLICATION_SUBMITTED,
            AuditAction.APPLICATION_REQUEUED,
            AuditAction.APPLICATION_DECIDED,
        ]
    finally:
        doomed.kill()
        replacement.stop()
        forget_queue(shared, queue)
        shared.delete(f"{gate}:claimed", f"{gate}:open")


class PrivateRedis:
    """A redis-server of this test's own, stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False


class Gunicorn:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "credscope_site.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--timeout", "60"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: self.request("GET", "/health/")[0] in (200, 503), 30, "gunicorn")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def request(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                method, path, json.dumps(body) if body is not None else None, headers
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        except OSError:
            return 0, None
        finally:
            connection.close()


class PrivateWorker(WorkerProcess):
    """A worker on the private broker; pinged through that broker, not the shared one."""

    def __init__(self, broker_url: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__("celery", env, log_path)
        self.broker_url = broker_url
        self.name = f"private-{uuid.uuid4().hex[:6]}@localhost"

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "credscope_site", "worker", "--pool=solo",
             "-Q", self.queue, "-n", self.name, "--without-gossip", "--without-mingle",
             "--loglevel=INFO"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.wait_until_answering(timeout)

    def wait_until_answering(self, timeout: float) -> None:
        from celery import Celery

        # Not the current app: shared tasks sent later in this process must keep the site's.
        control = Celery(broker=self.broker_url, set_as_current=False).control

        def answers() -> bool:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            try:
                return bool(control.ping(destination=[self.name], timeout=0.5))
            except Exception:  # the broker may still be coming back
                return False

        wait_for(answers, timeout, "the worker to answer on the private broker", interval=0.5)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_broker_outage_is_a_503_with_nothing_half_written_and_the_sweeper_recovers(
    officer, trained_model, private_redis, tmp_path
) -> None:
    # The web process hashes with the site's hashers, not the tests' fast MD5.
    officer.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "resilience", 1000)
    officer.save(update_fields=["password"])
    env = worker_env(redis_url=private_redis.url, queue="celery")
    worker = PrivateWorker(private_redis.url, env, tmp_path / "worker.log")
    web = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        worker.start()
        web.start()
        code, body = web.request(
            "POST", "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
        )
        assert code == 200, body
        token = body["token"]

        private_redis.stop()
        code, body = web.request("POST", "/api/v1/applications/", ROW, token=token)
        assert code == 503, body
        application = LoanApplication.objects.get()
        assert body["id"] == application.pk and body["status"] == "SUBMITTED"
        # Nothing half-written: the whole application or nothing, and no claim, no decision.
        assert application.status == "SUBMITTED" and application.scoring_claim == ""
        assert Applicant.objects.count() == 1 and not Decision.objects.exists()
        assert list(
            AuditEvent.objects.filter(
                target_type="applicants.loanapplication", target_id=str(application.pk)
            ).values_list("action", flat=True)
        ) == [AuditAction.APPLICATION_SUBMITTED]
        code, health = web.request("GET", "/api/v1/health/")
        assert code == 503 and health["broker"].startswith("error")

        private_redis.start()
        worker.wait_until_answering(60)  # the same worker reconnects by itself
        # What celery beat sends every minute; the worker runs it and re-enqueues.
        from celery import Celery

        beat = Celery(broker=private_redis.url, set_as_current=False)
        beat.send_task(
            "scoring.tasks.requeue_stuck_applications",
            kwargs={"older_than_seconds": 0},
            queue="celery",
        )
        wait_until_finished(application.pk, "the sweeper to recover it")
        assert Decision.objects.filter(application_id=application.pk).count() == 1
        assert LoanApplication.objects.count() == 1
    finally:
        web.stop()
        worker.stop()
