"""Decision latency and batch throughput through the real stack; prints one JSON object.

Starts gunicorn (production settings, plain HTTP) and one Celery worker against PostgreSQL and
Redis, in a database of its own (default `credscope_bench`, created and migrated if needed),
with the model bundle given by `--bundle` registered and activated, and measures:

- `sync`: `POST /api/v1/applications/?wait=true` round trips, scored with SHAP and saved
  within the request (client-side wall time; p50/p99). Targets p50 <= 40 ms, p99 <= 100 ms.
- `async`: submit without waiting, then time until the application is DECIDED by the one
  worker (decided_at minus the moment the request was sent; p50). Target p50 <= 300 ms.
- `sync.queries_per_request`: the statements one decided `?wait=true` request runs, counted
  in this process through the same view (CaptureQueriesContext). Target <= 10.
- `batch.one_worker` / `batch.two_workers`: a CSV of `--batch-rows` applications with
  reasons, upload to batch DONE (rows/s), first with one worker process, then with a second
  one started beside it (chunk tasks let both share a batch); `batch.scaling_ratio`, and
  `batch.scoring_scaling_ratio` of the scoring phase alone (from the upload's answer to the
  batch's `finished_at`). Targets >= 500 rows/s with two, ratio >= 1.6. Each run's `cpu`
  says where the machine's CPU went during its upload and its scoring phase (seconds by
  kind of process, and the cores left idle); `batch.cpu_bound_scaling_ratio` is the most a
  second worker could gain on these cores, from the one-worker run's figures.
- `memory`: VmRSS of each gunicorn worker and each Celery worker after the runs (with its
  RssAnon, the process's own memory, and RssFile, mapped files), with how many decisions
  each kind made. Target <= 1.5 GB each with the full bundle.
- `results_csv.seconds_20k`: downloading the results CSVs of both batches (20,000 rows with
  the default `--batch-rows`).
- `history.p50_ms`: one known applicant's history read from the data cache's index (the
  `store` option of `bench_history.py`, in a process of its own), with the cache's `scale`
  (1.0 = Kaggle's 307,511 applicants, 58M rows). Target p50 <= 3 ms at scale 1.0. With
  `--history-data DIR` (a CREDSCOPE_DATA_DIR holding `cache/`, e.g. load_homecredit's
  output at scale 1.0), the web and worker processes read that cache too and every sync and
  async request names a known applicant (`external_id`), so each of those decisions reads
  stored history. Batch rows carry none: batch intake refuses an SK_ID_CURR submitted in
  the last days, which a re-run of the bench would trip over.
- `load_average`: the machine's, before and after (timings on a shared machine are noisy).

Application rows are real Kaggle rows from ../shared/data/home_credit_sample (cycled), sent
without their SK_ID_CURR. Progress goes to stderr.

    .venv/bin/python bench/bench_scoring.py --bundle DIR [--sync 300] [--batch-rows 10000]
        [--history-data /work/data/s1] [--sections sync,async,batch]
        [--database-url URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import http.client
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = (
    Path(os.environ.get("CREDSCOPE_SHARED_DIR", REPO.parent / "shared"))
    / "data/home_credit_sample/application_test.csv.gz"
)
PASSWORD = secrets.token_urlsafe(16)
SECTIONS = ("sync", "async", "batch")
TARGETS = {
    "sync_p50_ms": 40,
    "sync_p99_ms": 100,
    "sync_queries_per_request": 10,
    "async_p50_ms": 300,
    "batch_two_workers_rows_per_s": 500,
    "batch_scaling_ratio": 1.6,
    "history_p50_ms": 3,
    "rss_mb": 1536,
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- set-up -------------------------------------------------------------------------------------


def environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        # Production settings require the audit chain's key (issue 13).
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_TASK_DEFAULT_QUEUE": args.queue,
        "API_THROTTLE_USER": "1000000/minute",
        "API_THROTTLE_TOKEN": "1000/minute",
        "LOG_LEVEL": "WARNING",
        **({"CREDSCOPE_DATA_DIR": str(args.history_data)} if args.history_data else {}),
    }


def prepare_database(args: argparse.Namespace, env: dict[str, str]) -> None:
    import psycopg

    admin_url = args.database_url.rsplit("/", 1)[0] + "/postgres"
    name = args.database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if getattr(args, "fresh", False) and exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    log(f"migrating {name}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def prepare_users_and_model(args: argparse.Namespace) -> str:
    """The bench officer (a fresh password) and `--bundle` registered and activated."""
    from django.contrib.auth.models import Group, User

    from scoring import registry
    from scoring.models import ModelVersion

    officer, _ = User.objects.get_or_create(username="bench_officer")
    officer.set_password(PASSWORD)
    officer.save()
    officer.groups.set([Group.objects.get(name="loan_officer")])

    version = args.bundle.name
    if not ModelVersion.objects.filter(version=version).exists():
        registry.model_version_register(bundle_path=args.bundle, profile="full", trained_by=None)
    model = registry.model_version_activate(version=version, actor=None, reason="bench")
    log(f"model {model.version} ({model.profile}, {model.feature_count} features) active")
    return model.version


def application_rows(limit: int) -> list[dict[str, Any]]:
    from scoring import registry
    from scoring.ml.schema.records import clean_application

    # Rows the active version accepts: a real row may lack an input it requires.
    contract = registry.input_contract()
    rows = []
    with gzip.open(SAMPLE, "rt", newline="") as handle:
        for raw in csv.DictReader(handle):
            raw.pop("SK_ID_CURR", None)
            row, errors = clean_application(raw, from_text=True)
            if not errors and not contract.errors(row):
                rows.append(row)
            if len(rows) >= limit:
                break
    if not rows:
        raise SystemExit(f"no usable application rows in {SAMPLE}")
    return rows


class Process:
    def __init__(self, command: list[str], env: dict[str, str], name: str) -> None:
        log_dir = REPO / "var" / "bench"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ):
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            raise

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        status, body = self.request(
            method, path, json.dumps(payload).encode() if payload is not None else None
        )
        return status, json.loads(body or b"null")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (http.client.HTTPException, OSError):
            pass
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


# --- measurements -------------------------------------------------------------------------------


def measure_sync(client: Client, rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    latencies, server = [], []
    for i in range(count):
        started = time.perf_counter()
        status, body = client.json("POST", "/api/v1/applications/?wait=true", rows[i % len(rows)])
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 201:
            raise SystemExit(f"sync request {i} answered {status}: {body}")
        server.append(body["decision"]["scoring_latency_ms"])
    return {
        "requests": count,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "scoring_p50_ms": round(percentile(server, 50), 2),
    }


def measure_async(client: Client, rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    from scoring.models import Decision

    latencies = []
    for i in range(count):
        sent = datetime.now(UTC)
        status, body = client.json("POST", "/api/v1/applications/", rows[(i * 7) % len(rows)])
        if status != 202:
            raise SystemExit(f"async request {i} answered {status}: {body}")
        deadline = time.monotonic() + 30
        decided_at = None
        while decided_at is None and time.monotonic() < deadline:
            decided_at = (
                Decision.objects.filter(application_id=body["id"])
                .values_list("decided_at", flat=True)
                .first()
            )
            if decided_at is None:
                time.sleep(0.002)
        if decided_at is None:
            raise SystemExit(f"application {body['id']} was not decided within 30 s")
        latencies.append((decided_at - sent).total_seconds() * 1000)
    return {
        "applications": count,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


class CpuSampler:
    """Where the machine's CPU goes while a batch runs: every `interval` seconds, in a thread
    of its own, the machine's idle time (/proc/stat) and the CPU time of each kind of
    process (/proc/PID/stat): the Celery workers, gunicorn, PostgreSQL, Redis, this script.

    The scaling ratio depends on it: the workers share the cores with PostgreSQL and the web,
    so a second worker gains only what the first left idle.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, kinds: dict[str, list[int]], interval: float = 0.5) -> None:
        self.kinds = kinds  # kind -> root pids (their children count with them)
        self.interval = interval
        self.samples: list[tuple[float, float, dict[str, float]]] = []
        self._seen: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(self._sample())
            if self._stop.wait(self.interval):
                self.samples.append(self._sample())
                return

    def _sample(self) -> tuple[float, float, dict[str, float]]:
        owner = {os.getpid(): "bench"}
        for kind, roots in self.kinds.items():
            for root in roots:
                owner |= dict.fromkeys([root, *children(root)], kind)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:  # the process ended between the listing and the read
                continue
            pid, name = int(text[: text.index(" ")]), text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()  # from field 3, the state
            kind = owner.get(pid) or self._kind_by_name(name)
            self._seen[pid] = (kind, (int(fields[11]) + int(fields[12])) / self.TICK)
        # A process that ended (a request's database connection, say) keeps its last reading.
        busy: dict[str, float] = {}
        for kind, seconds in self._seen.values():
            busy[kind] = busy.get(kind, 0.0) + seconds
        with open("/proc/stat") as machine:
            idle = sum(int(x) for x in machine.readline().split()[4:6]) / self.TICK  # + iowait
        return time.time(), idle, busy

    @staticmethod
    def _kind_by_name(name: str) -> str:
        if name == "postgres":
            return "postgres"
        return "redis" if name.startswith("redis") else "other"

    def between(self, start: float, end: float) -> dict[str, Any]:
        """CPU seconds by kind, and idle core-seconds, between two wall-clock moments (from
        the samples nearest them)."""
        first = min(self.samples, key=lambda s: abs(s[0] - start))
        last = min(self.samples, key=lambda s: abs(s[0] - end))
        seconds = max(last[0] - first[0], 1e-9)
        busy = {
            kind: round(last[2].get(kind, 0.0) - first[2].get(kind, 0.0), 2)
            for kind in sorted(set(first[2]) | set(last[2]))
        }
        return {
            "seconds": round(seconds, 2),
            "cpu_s": busy,
            "idle_core_s": round(last[1] - first[1], 2),
            "cores_busy": round(sum(busy.values()) / seconds, 2),
        }


def measure_batch(
    client: Client, rows: list[dict[str, Any]], count: int, kinds: dict[str, list[int]]
) -> dict[str, Any]:
    """Upload `count` rows as one CSV and time it to the batch's end.

    Progress is polled once a second, as the portal's batch page does (each poll counts the
    batch's rows in PostgreSQL, on the cores the workers score on: polling four times a
    second cost them a tenth of a core). The end is the batch's own `finished_at`, stamped by
    the chunk that finished it on this machine's clock, so the poll interval adds nothing to
    the time measured.
    """
    columns = sorted({name for row in rows for name in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for i in range(count):
        writer.writerow(rows[i % len(rows)])
    content = buffer.getvalue().encode()
    with CpuSampler(kinds) as cpu:
        time.sleep(0.3)  # a first sample before the upload, to measure it from
        started_wall = time.time()
        started = time.perf_counter()
        status, body = client.request("POST", "/api/v1/batches/", content, content_type="text/csv")
        accepted = time.perf_counter()
        accepted_wall = time.time()
        if status != 202:
            raise SystemExit(f"batch upload answered {status}: {body[:500]!r}")
        batch = json.loads(body)
        detail: dict[str, Any] = {}

        def finished() -> bool:
            nonlocal detail
            _, detail = client.json("GET", batch["url"])
            return detail["status"] in ("done", "failed")

        wait_until(finished, 1800, "the batch to finish", interval=1.0)
    finished_wall = datetime.fromisoformat(detail["finished_at"]).timestamp()
    total = finished_wall - started_wall
    upload = accepted - started
    progress = detail["progress"]
    return {
        "rows": count,
        "bytes": len(content),
        "status": detail["status"],
        "decided": progress["decided"],
        "failed": progress["failed"],
        "invalid": progress["invalid"],
        "upload_s": round(upload, 2),
        "total_s": round(total, 2),
        "rows_per_s": round(count / total, 1),
        "scoring_rows_per_s": round(count / (total - upload), 1),
        "results_url": batch["results_url"],
        "cpu": {
            "upload": cpu.between(started_wall, accepted_wall),
            "scoring": cpu.between(accepted_wall, finished_wall),
        },
    }


def queries_per_request(row: dict[str, Any], token: str) -> dict[str, int]:
    """The statements one decided `?wait=true` request runs, through the real view in this
    process (after one request that loads the model here)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="localhost")
    # The bench's own token: issuing one here would need a request (django-axes checks it).
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    path = "/api/v1/applications/?wait=true"
    client.post(path, row, format="json", secure=True)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, row, format="json", secure=True)
    if response.status_code != 201:
        raise SystemExit(f"in-process sync request answered {response.status_code}")
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
    statements = [q["sql"] for q in captured.captured_queries]
    return {
        "queries_per_request": sum(not sql.startswith(control) for sql in statements),
        "statements_per_request": len(statements),  # with the transaction's own BEGIN/COMMIT
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def rss_split(pids: list[int]) -> list[dict[str, float]]:
    return [
        {
            "vm_rss_mb": rss_mb(pid),
            "anon_mb": rss_mb(pid, "RssAnon"),
            "file_mb": rss_mb(pid, "RssFile"),
        }
        for pid in pids
    ]


def known_applicants(data_dir: Path | None, count: int, seed: int = 15) -> list[int]:
    """SK_ID_CURR of applicants in the data cache (random, repeating), or none."""
    if data_dir is None:
        return []
    import numpy as np
    import pyarrow.parquet as pq

    ids = pq.read_table(data_dir / "cache" / "application_train.parquet", columns=["SK_ID_CURR"])
    return [int(i) for i in np.random.default_rng(seed).choice(ids.column(0).to_numpy(), count)]


def measure_history(data_dir: Path | None, lookups: int) -> dict[str, Any]:
    """`bench_history.py`'s `store` option on the data cache, in a process of its own."""
    if data_dir is None:
        return {"p50_ms": None, "note": "no --history-data: no data cache to look up"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_history.py"), "--cache",
         str(data_dir / "cache"), "--options", "store", "--lookups", str(lookups)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench_history.py failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    store = result["options"]["store"]
    return {
        "p50_ms": store["with_history"]["p50_ms"],
        "p99_ms": store["with_history"]["p99_ms"],
        "without_history_p50_ms": store["without_history"]["p50_ms"],
        "scale": result["scale"],
        "applicants": result["applicants"],
        "lookups": store["with_history"]["lookups"],
        "mean_rows": store["with_history"]["mean_rows"],
        "process_rss_after": store["rss_after"],
        "load_average": result["load_average_before"],
    }


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def measure_results_csv(client: Client, urls: list[str]) -> dict[str, Any]:
    started, lines = time.perf_counter(), 0
    for url in urls:
        status, body = client.request("GET", url)
        if status != 200:
            raise SystemExit(f"results CSV answered {status}")
        lines += body.count(b"\n") - 1
    return {"rows": lines, "seconds": round(time.perf_counter() - started, 2)}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def worker_command(args: argparse.Namespace, name: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "credscope_site", "worker", "--pool=solo",
            "-Q", args.queue, "-n", f"{name}-{args.queue}@localhost", "--without-gossip",
            "--without-mingle", "--loglevel=WARNING"]  # fmt: skip


def worker_ready(args: argparse.Namespace, name: str) -> bool:
    """The worker answers a ping (after its warm start: the solo pool loads the model first)."""
    from credscope_site.celery import app

    return bool(app.control.ping(destination=[f"{name}-{args.queue}@localhost"], timeout=1.0))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/credscope_bench"
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        required=True,
        help="a model bundle (the full profile's: bench_model.py --sections full writes one)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--queue", default=f"credscope-bench-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--sync", type=int, default=300)
    parser.add_argument("--async", dest="async_", type=int, default=60)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database")
    parser.add_argument(
        "--history-data",
        type=Path,
        help="a CREDSCOPE_DATA_DIR with cache/ (load_homecredit): history look-ups measured "
        "on it, and sync and async requests name its applicants",
    )
    parser.add_argument("--history-lookups", type=int, default=5000)
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma separated, of {', '.join(SECTIONS)} (default all; results CSV and memory "
        "come with batch)",
    )
    args = parser.parse_args()
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if unknown := set(args.sections) - set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def cpu_bound_scaling_ratio(one: dict[str, Any]) -> float:
    """The highest ratio the one-worker run allows on this machine: its time, over the upload
    (the web's, serial) plus the scoring phase's CPU of every process (the workers',
    PostgreSQL's, the web's answering polls, ...) shared by all the cores without a moment
    idle. A second worker can take the core the first left idle, but not the part of it
    PostgreSQL and the web already used."""
    scoring_cpu = sum(one["cpu"]["scoring"]["cpu_s"].values())
    best_two_workers = one["upload_s"] + scoring_cpu / (os.cpu_count() or 1)
    return round(one["total_s"] / best_two_workers, 2)


def summary(
    args: argparse.Namespace,
    model_version: str,
    load_before: list[float],
    sync: dict | None,
    asynchronous: dict | None,
    history: dict,
    one: dict | None = None,
    two: dict | None = None,
    memory: dict | None = None,
    results_csv: dict | None = None,
) -> dict:
    """The one JSON object this script prints, with the issue's keys and the targets met
    (null where a section was not run)."""
    batch = None
    if one is not None and two is not None:
        batch = {
            "one_worker": one,
            "two_workers": two,
            "scaling_ratio": round(two["rows_per_s"] / one["rows_per_s"], 2),
            # The workers' share alone: the upload before it is the web's, serial either way.
            "scoring_scaling_ratio": round(
                two["scoring_rows_per_s"] / one["scoring_rows_per_s"], 2
            ),
            "cpu_bound_scaling_ratio": cpu_bound_scaling_ratio(one),
        }
    meets = {
        "sync_p50": sync and sync["p50_ms"] <= TARGETS["sync_p50_ms"],
        "sync_p99": sync and sync["p99_ms"] <= TARGETS["sync_p99_ms"],
        "sync_queries": sync and sync["queries_per_request"] <= TARGETS["sync_queries_per_request"],
        "async_p50": asynchronous and asynchronous["p50_ms"] <= TARGETS["async_p50_ms"],
        "batch_two_workers": batch
        and batch["two_workers"]["rows_per_s"] >= TARGETS["batch_two_workers_rows_per_s"],
        "batch_scaling": batch and batch["scaling_ratio"] >= TARGETS["batch_scaling_ratio"],
        "rss": memory and max(memory["web_rss_mb"], memory["worker_rss_mb"]) <= TARGETS["rss_mb"],
        "history_p50": history["p50_ms"] is not None
        and history.get("scale") == 1.0
        and history["p50_ms"] <= TARGETS["history_p50_ms"],
    }
    return {
        "benchmark": "bench_scoring",
        "model_version": model_version,
        "sections": args.sections,
        "cpu_count": os.cpu_count(),
        "load_average": {"before": load_before, "after": load_average()},
        "web_workers": args.web_workers,
        "sync": sync,
        "async": asynchronous,
        "batch": batch,
        "history": history,
        "memory": memory,
        "results_csv": results_csv
        and {
            "rows": results_csv["rows"],
            "seconds": results_csv["seconds"],
            "seconds_20k": round(results_csv["seconds"] * 20_000 / max(results_csv["rows"], 1), 2),
        },
        "targets": TARGETS,
        "meets_targets": {
            key: None if value is None else bool(value) for key, value in meets.items()
        },
    }


def main() -> None:
    args = parse_args()

    env = environment(args)
    prepare_database(args, env)
    setup_django(env)
    model_version = prepare_users_and_model(args)
    if args.history_data is not None and not (args.history_data / "cache").is_dir():
        raise SystemExit(f"--history-data {args.history_data} has no cache/ folder")
    log("history look-ups")
    history = measure_history(args.history_data, args.history_lookups)
    log(f"history {history}")
    rows = application_rows(5000)
    log(f"{len(rows)} application rows from {SAMPLE.name}")
    known = known_applicants(args.history_data, len(rows))
    online_rows = (
        [{**row, "external_id": i} for row, i in zip(rows, known, strict=True)] if known else rows
    )

    port = free_port()
    web = Process(
        [sys.executable, "-m", "gunicorn", "credscope_site.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.web_workers), "--timeout", "300"],
        env,
        "gunicorn",
    )  # fmt: skip
    worker = Process(worker_command(args, "one"), env, "worker")
    second: Process | None = None
    load_before = load_average()
    try:
        client = Client(port)
        wait_until(lambda: client.request("GET", "/health/")[0] == 200, 60, "gunicorn")
        status, body = client.json(
            "POST", "/api/v1/auth/token/", {"username": "bench_officer", "password": PASSWORD}
        )
        if status != 200:
            raise SystemExit(f"token request answered {status}: {body}")
        client.token = body["token"]

        sync: dict[str, Any] | None = None
        asynchronous: dict[str, Any] | None = None
        # The worker loads and compiles the model as it starts: several seconds of CPU on
        # the cores the web answers on. Every figure is measured once it is ready.
        wait_until(lambda: worker_ready(args, "one"), 300, "the first worker to be ready")
        if "sync" in args.sections:
            log("warming up")
            measure_sync(client, online_rows, 2 * args.web_workers)
            log(f"sync: {args.sync} requests with ?wait=true")
            sync = measure_sync(client, online_rows, args.sync)
            sync.update(queries_per_request(online_rows[0], client.token))
            sync["with_stored_history"] = bool(known)
            log(f"sync {sync}")

        if "async" in args.sections:
            log("async: warming the worker up")
            measure_async(client, online_rows, 3)
            log(f"async: {args.async_} applications, one worker")
            asynchronous = measure_async(client, online_rows, args.async_)
            log(f"async {asynchronous}")

        if "batch" not in args.sections:
            print(
                json.dumps(summary(args, model_version, load_before, sync, asynchronous, history))
            )
            return
        log(f"batch: {args.batch_rows} rows, one worker process")
        kinds = {"web": [web.process.pid], "workers": [worker.process.pid]}
        one = measure_batch(client, rows, args.batch_rows, kinds)
        log(f"batch one worker {one}")
        second = Process(worker_command(args, "two"), env, "worker-two")
        # It loads and compiles the model before it answers: it starts the batch ready.
        wait_until(lambda: worker_ready(args, "two"), 300, "the second worker to be ready")
        log(f"batch: {args.batch_rows} rows, two worker processes")
        kinds["workers"].append(second.process.pid)
        two = measure_batch(client, rows, args.batch_rows, kinds)
        log(f"batch two workers {two}")
        results_csv = measure_results_csv(client, [one["results_url"], two["results_url"]])
        log(f"results CSV {results_csv}")
        memory = {
            "web_rss_mb": max(rss_mb(pid) for pid in children(web.process.pid)),
            "worker_rss_mb": max(rss_mb(worker.process.pid), rss_mb(second.process.pid)),
            "web_processes": rss_split(children(web.process.pid)),
            "worker_processes": rss_split([worker.process.pid, second.process.pid]),
            "web_decisions": args.sync + 2 * args.web_workers + 1,
            "worker_decisions": args.async_ + 3 + 2 * args.batch_rows,
        }
        log(f"memory {memory}")
    finally:
        web.stop()
        worker.stop()
        if second is not None:
            second.stop()

    result = summary(
        args, model_version, load_before, sync, asynchronous, history, one, two, memory, results_csv
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
