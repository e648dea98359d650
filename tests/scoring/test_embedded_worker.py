"""The embedded default without Redis (what `make demo` runs): a real Celery worker beside the
web process, with a folder as the broker (kombu's filesystem transport). A batch upload and an
API submission return at once, and the worker decides them while the progress moves."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from scoring.models import BatchJob, Decision
from tests.conftest import REPO_ROOT
from tests.factories import DEFAULT_PASSWORD, minimal_application, with_required_columns
from tests.scoring.test_worker_resilience import Gunicorn, wait_for, worker_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
HEADER = "NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,AMT_ANNUITY,DAYS_BIRTH"
ROWS = 150
ROW = minimal_application()


class FolderWorker:
    """`celery worker` on the filesystem transport; ready when its log says so (the folder
    broker answers no remote-control ping)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "credscope_site", "worker", "--pool=solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
             "-n", f"folder-{uuid.uuid4().hex[:6]}@localhost"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        def ready() -> bool:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            return " ready." in self.log_path.read_text()

        wait_for(ready, 90, "the folder-broker worker to be ready", interval=0.3)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(web: Gunicorn, token: str, content: bytes) -> tuple[int, dict, float]:
    body, content_type = multipart("demo.csv", content)
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            "/api/v1/batches/",
            body,
            {"Content-Type": content_type, "Authorization": f"Token {token}"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read()), time.monotonic() - started
    finally:
        connection.close()


def test_without_redis_a_worker_beside_the_web_process_scores_while_requests_return(
    officer, trained_model, tmp_path
) -> None:
    officer.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "embedded", 1000)
    officer.save(update_fields=["password"])
    env = worker_env(
        redis_url="",
        queue="celery",
        CREDSCOPE_TASK_DIR=str(tmp_path / "tasks"),
        CREDSCOPE_BATCH_CHUNK_SIZE="25",
    )
    worker = FolderWorker(env, tmp_path / "worker.log")
    web = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        web.start()
        code, body = web.request(
            "POST", "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
        )
        assert code == 200, body
        token = body["token"]

        # Nothing scores yet: the worker is not started, and the requests still return.
        code, single = web.request("POST", "/api/v1/applications/", ROW, token=token)
        assert code == 202 and single["status"] == "SUBMITTED", single
        lines = [
            f"Cash loans,{90000 + 500 * n},{400000 + 900 * n},20000,-12000" for n in range(ROWS)
        ]
        content = with_required_columns("\n".join([HEADER, *lines]))
        code, batch, _seconds = upload(web, token, content)
        assert code == 202, batch
        assert batch["status"] == "queued" and batch["total_rows"] == ROWS
        assert not Decision.objects.exists()
        # The messages wait in the folder, not in any process's memory.
        assert len(list((tmp_path / "tasks" / "queue").iterdir())) == 2

        worker.start()
        seen_percents: set[float] = set()

        def batch_done() -> bool:
            code, detail = web.request("GET", batch["url"], token=token)
            assert code == 200, detail
            seen_percents.add(detail["progress"]["percent"])
            return detail["status"] == "done"

        wait_for(batch_done, 180, "the worker to decide the batch", interval=0.2)
        # The progress bar moved through the chunks, not straight from 0 to 100.
        assert any(0 < p < 100 for p in seen_percents), sorted(seen_percents)
        assert BatchJob.objects.get(pk=batch["id"]).status == BatchJob.Status.DONE
        assert Decision.objects.filter(application__batch_id=batch["id"]).count() == ROWS

        wait_for(
            lambda: (
                web.request("GET", f"/api/v1/applications/{single['id']}/", token=token)[1][
                    "status"
                ]
                == "DECIDED"
            ),
            60,
            "the single application to be decided",
        )
        # The worker's log is what `make demo` leaves a newcomer to read.
        assert "No hostname was supplied" not in (tmp_path / "worker.log").read_text()
    finally:
        web.stop()
        worker.stop()
