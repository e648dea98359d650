"""A batch split into chunk tasks: planned by rows, each chunk retried alone, the last one to
end finishes the batch, and every row is decided exactly once even when a worker holding a
chunk is SIGKILLed while another worker holds the next."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from applicants.models import Applicant, LoanApplication
from applicants.services import batch_intake
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import chunks, registry, selectors, sweeper, tasks
from scoring.models import BatchJob, Decision
from tests.conftest import WorkerProcess
from tests.factories import with_required_columns
from tests.scoring.test_worker_resilience import forget_queue, wait_for, worker_env

HEADER = "SK_ID_CURR,NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,AMT_ANNUITY,DAYS_BIRTH"
BAD = ",Cash loans,-5,500000,25000,-15000"  # negative income: an invalid row, never a chunk's


def csv_of(valid_rows: int, *, bad_at: int | None = None) -> bytes:
    lines = [
        f",Cash loans,{100000 + 7000 * n},{300000 + 40000 * n},{15000 + 900 * n},{-9000 - 400 * n}"
        for n in range(valid_rows)
    ]
    if bad_at is not None:
        lines.insert(bad_at - 1, BAD)
    return with_required_columns("\n".join([HEADER, *lines]))


def decisions_per_row(batch: BatchJob) -> dict[int, int]:
    return dict(
        Counter(
            Decision.objects.filter(application__batch=batch).values_list(
                "application__batch_row", flat=True
            )
        )
    )


def trail_of(application_id: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="applicants.loanapplication", target_id=str(application_id)
        )
        .order_by("sequence")
        .values_list("action", flat=True)
    )


# --- in process ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_is_planned_in_chunks_of_rows_and_the_last_chunk_finishes_it(
    officer, trained_model, settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2
    sent: list[tuple[int, int]] = []
    real_chunk = chunks.batch_chunk_decide

    def recording(**kwargs):
        sent.append((kwargs["first_row"], kwargs["last_row"]))
        # Before each chunk runs, the batch is not finished yet.
        assert BatchJob.objects.get(pk=kwargs["batch_id"]).status == BatchJob.Status.RUNNING
        return real_chunk(**kwargs)

    monkeypatch.setattr(chunks, "batch_chunk_decide", recording)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(
            actor=officer, filename="c.csv", content=csv_of(5, bad_at=3)
        )
    batch.refresh_from_db()
    # Rows 1..6 with row 3 invalid: the five valid rows, two per chunk, by row number.
    assert sent == [(1, 2), (4, 5), (6, 6)]
    assert batch.status == BatchJob.Status.DONE and batch.finished_at is not None
    assert decisions_per_row(batch) == {1: 1, 2: 1, 4: 1, 5: 1, 6: 1}
    progress = selectors.batch_progress(batch=batch)
    assert progress["decided"] == 5 and progress["invalid"] == 1 and progress["percent"] == 100.0
    assert sum(progress["outcomes"].values()) == 5
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_FINISHED).count() == 1


@pytest.mark.django_db
def test_a_chunk_that_hits_a_transient_error_is_retried_alone(
    officer, trained_model, settings, monkeypatch
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2
    batch = batch_intake.batch_create(actor=officer, filename="c.csv", content=csv_of(6))
    real_score = registry.score_records
    calls: list[int] = []
    failed_once: list[bool] = []

    def flaky_database(**kwargs):
        rows = len(kwargs["application_rows"])
        calls.append(rows)
        if len(calls) == 2 and not failed_once:  # the second chunk's first attempt
            failed_once.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return real_score(**kwargs)

    monkeypatch.setattr(registry, "score_records", flaky_database)
    # Eager retries re-apply the task; keep each attempt's failure in its own result.
    monkeypatch.setitem(tasks.score_batch_chunk.app.conf, "task_eager_propagates", False)
    tasks.score_batch.apply(args=[batch.pk])

    batch.refresh_from_db()
    # Three chunks of two rows; only the second was scored twice.
    assert calls == [2, 2, 2, 2]
    assert batch.status == BatchJob.Status.DONE
    assert decisions_per_row(batch) == {row: 1 for row in range(1, 7)}
    retried = LoanApplication.objects.filter(batch=batch, batch_row__in=[3, 4])
    assert {a.attempts for a in retried} == {1}  # the retry carried on with its own claims


@pytest.mark.django_db
def test_a_chunk_failing_for_good_fails_its_rows_and_the_others_are_decided(
    officer, trained_model, settings, monkeypatch
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2
    batch = batch_intake.batch_create(actor=officer, filename="c.csv", content=csv_of(5))
    real_score = registry.score_records
    doomed = {114000, 121000}  # the incomes of rows 3 and 4 (see csv_of)

    def database_down_for_one_chunk(**kwargs):
        if any(row["AMT_INCOME_TOTAL"] in doomed for row in kwargs["application_rows"]):
            raise OperationalError("server closed the connection unexpectedly")
        return real_score(**kwargs)

    monkeypatch.setattr(registry, "score_records", database_down_for_one_chunk)
    monkeypatch.setitem(tasks.score_batch_chunk.app.conf, "task_eager_propagates", False)
    tasks.score_batch.apply(args=[batch.pk])

    batch.refresh_from_db()
    assert batch.status == BatchJob.Status.DONE
    assert decisions_per_row(batch) == {1: 1, 2: 1, 5: 1}
    failed = LoanApplication.objects.filter(batch=batch, status="FAILED").order_by("batch_row")
    assert [a.batch_row for a in failed] == [3, 4]
    assert all("retries exhausted" in a.failure_reason for a in failed)
    assert all(a.failure_reason.startswith("chunk failed:") for a in failed)
    progress = selectors.batch_progress(batch=batch)
    assert (progress["decided"], progress["failed"], progress["percent"]) == (3, 2, 100.0)


@pytest.mark.django_db
def test_planning_a_finished_or_fully_decided_batch_sends_nothing(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(actor=officer, filename="c.csv", content=csv_of(3))
    assert chunks.batch_chunks_plan(batch_id=batch.pk) == []
    chunks.batch_decide(batch_id=batch.pk, task_id="again")
    assert decisions_per_row(batch) == {1: 1, 2: 1, 3: 1}
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_FINISHED).count() == 1


# --- the upload's intake, saved by the chunks -----------------------------------------------------


def named_csv(ids: list[int | None], *, bad_at: int | None = None) -> bytes:
    """One valid row per id (SK_ID_CURR and a name), and an invalid one at `bad_at`."""
    lines = [
        f"{'' if i is None else i},Person {n},Cash loans,{120000 + 5000 * n},"
        f"{300000 + 30000 * n},{15000 + 700 * n},{-10000 - 300 * n}"
        for n, i in enumerate(ids, start=1)
    ]
    if bad_at is not None:
        lines.insert(bad_at - 1, "777,Bad Row,Cash loans,-5,500000,25000,-15000")
    header = (
        "SK_ID_CURR,full_name,NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,AMT_ANNUITY,DAYS_BIRTH"
    )
    return with_required_columns("\n".join([header, *lines]))


def results(batch: BatchJob) -> dict[str, dict[str, str]]:
    rows = selectors.batch_results_rows(batch=BatchJob.objects.get(pk=batch.pk))
    header = next(rows)
    return {line[0]: dict(zip(header, line, strict=True)) for line in rows}


@pytest.mark.django_db
def test_an_upload_checks_every_row_and_leaves_the_valid_ones_to_the_chunks(
    officer, trained_model, settings
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2
    batch = batch_intake.batch_create(
        actor=officer, filename="n.csv", content=named_csv([11, 12, 13, None, 15], bad_at=3)
    )
    # Answered before any row is saved as an application: the chunks will save them.
    assert not LoanApplication.objects.filter(batch=batch).exists()
    assert (batch.total_rows, batch.valid_rows, batch.invalid_rows) == (6, 5, 1)
    ranges = list(batch.intakes.order_by("first_row").values_list("first_row", "last_row"))
    assert ranges == [(1, 2), (4, 5), (6, 6)]
    waiting_ids = batch.intakes.values_list("external_ids", flat=True)
    assert sorted(i for ids in waiting_ids for i in ids) == [11, 12, 13, 15]
    progress = selectors.batch_progress(batch=batch)
    assert (progress["valid"], progress["submitted"], progress["decided"]) == (5, 5, 0)
    assert progress["processed"] == 1 and progress["percent"] == round(100 / 6, 1)
    # A download meanwhile names the waiting rows as submitted, never as invalid.
    lines = results(batch)
    assert [lines[str(n)]["status"] for n in range(1, 7)] == [
        "SUBMITTED", "SUBMITTED", "INVALID", "SUBMITTED", "SUBMITTED", "SUBMITTED"
    ]  # fmt: skip
    assert (lines["4"]["SK_ID_CURR"], lines["4"]["full_name"]) == ("13", "Person 3")
    assert lines["5"]["SK_ID_CURR"] == "" and lines["3"]["errors"]


@pytest.mark.django_db
def test_a_chunk_saves_its_rows_once_as_the_uploaders_submissions(
    officer, trained_model, settings
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2
    batch = batch_intake.batch_create(
        actor=officer, filename="n.csv", content=named_csv([21, 22, 23, 24])
    )
    assert chunks.batch_chunk_decide(batch_id=batch.pk, first_row=1, last_row=2, task_id="a") == 2
    saved = LoanApplication.objects.filter(batch=batch).select_related("applicant")
    assert sorted(a.batch_row for a in saved) == [1, 2]
    for application in saved:
        assert application.status == "DECIDED" and application.created_by == officer
        assert application.channel == "batch" and application.submitted_at == batch.created_at
        assert application.applicant.full_name == f"Person {application.batch_row}"
        assert application.applicant.external_id == 20 + application.batch_row
        assert trail_of(application.pk) == [
            AuditAction.APPLICATION_SUBMITTED,
            AuditAction.APPLICATION_DECIDED,
        ]
    submitted = AuditEvent.objects.filter(action=AuditAction.APPLICATION_SUBMITTED)
    assert {event.actor_id for event in submitted} == {officer.pk}
    assert list(batch.intakes.values_list("first_row", flat=True)) == [3]
    # The same range again (a redelivered or duplicate task) saves and decides nothing.
    assert chunks.batch_chunk_decide(batch_id=batch.pk, first_row=1, last_row=2, task_id="b") == 0
    assert chunks.batch_chunks_plan(batch_id=batch.pk) == [(3, 4)]
    tasks.score_batch.apply(args=[batch.pk])
    batch.refresh_from_db()
    assert batch.status == BatchJob.Status.DONE and not batch.intakes.exists()
    assert decisions_per_row(batch) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert results(batch)["3"]["outcome"] in {"APPROVE", "REFER", "REJECT"}


@pytest.mark.django_db
def test_a_chunk_that_fails_while_saving_its_rows_saves_none_of_them(
    officer, trained_model, settings, monkeypatch
) -> None:
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 3
    batch = batch_intake.batch_create(actor=officer, filename="n.csv", content=named_csv([1, 2, 3]))
    real_record_many = chunks.trail.record_many

    def trail_down(events):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(chunks.trail, "record_many", trail_down)
    with pytest.raises(OperationalError):
        chunks.batch_chunk_decide(batch_id=batch.pk, first_row=1, last_row=3, task_id="a")
    # No applicant, application or claim of the range was kept: the intake still holds it.
    assert not LoanApplication.objects.filter(batch=batch).exists()
    assert not Applicant.objects.filter(external_id__in=[1, 2, 3]).exists()
    assert batch.intakes.count() == 1
    monkeypatch.setattr(chunks.trail, "record_many", real_record_many)
    assert chunks.batch_chunk_decide(batch_id=batch.pk, first_row=1, last_row=3, task_id="a") == 3
    assert decisions_per_row(batch) == {1: 1, 2: 1, 3: 1}


@pytest.mark.django_db
def test_a_chunk_failed_for_good_fails_the_rows_it_never_saved(officer, trained_model) -> None:
    batch = batch_intake.batch_create(actor=officer, filename="n.csv", content=named_csv([5, 6]))
    failed = chunks.batch_chunk_mark_failed(
        batch_id=batch.pk, first_row=1, last_row=2, task_id="gone", reason="retries exhausted"
    )
    assert failed == 2 and not batch.intakes.exists()
    rows = LoanApplication.objects.filter(batch=batch).order_by("batch_row")
    assert [(a.batch_row, a.status) for a in rows] == [(1, "FAILED"), (2, "FAILED")]
    assert all(a.failure_reason == "chunk failed: retries exhausted" for a in rows)
    batch.refresh_from_db()
    assert batch.status == BatchJob.Status.DONE
    progress = selectors.batch_progress(batch=batch)
    assert (progress["failed"], progress["submitted"], progress["percent"]) == (2, 0, 100.0)


@pytest.mark.django_db
def test_rows_still_waiting_for_their_chunk_warn_of_a_resubmission(officer, trained_model) -> None:
    first = batch_intake.batch_create(actor=officer, filename="a.csv", content=named_csv([4242]))
    assert first.intakes.exists()  # no worker: its row waits in the intake
    second = batch_intake.batch_create(
        actor=officer, filename="b.csv", content=named_csv([4242, 4343])
    )
    assert list(second.row_warnings) == ["1"]
    assert "4242 was already submitted in the last" in second.row_warnings["1"]["SK_ID_CURR"]


# --- real workers -------------------------------------------------------------------------------


def cpu_ticks_by_thread(pid: int) -> dict[int, int]:
    """User and system clock ticks of each of the process's threads, from /proc."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        ticks[int(task.name)] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_a_worker_scores_a_batch_on_its_own_core(
    officer, trained_model, celery_worker_process
) -> None:
    """A worker process is one of a pool sized to the cores: it scores on its own thread.
    SHAP spread over a thread per core would compete with the sibling processes (and it
    would: the worker has loaded OpenMP's thread pool with the models)."""
    pid = celery_worker_process.process.pid

    def decide_batch(copies: int) -> BatchJob:
        header, *lines = csv_of(40).decode().splitlines()
        content = "\n".join([header, *lines * copies]).encode()
        batch = batch_intake.batch_create(actor=officer, filename="c.csv", content=content)
        wait_for(
            lambda: BatchJob.objects.get(pk=batch.pk).status == BatchJob.Status.DONE,
            120,
            f"a batch of {40 * copies} rows",
        )
        return batch

    decide_batch(1)  # the worker's first task: whatever it does once is done now
    before = cpu_ticks_by_thread(pid)
    batch = decide_batch(100)
    after = cpu_ticks_by_thread(pid)
    assert len(decisions_per_row(batch)) == 4000
    spent = {tid: ticks - before.get(tid, 0) for tid, ticks in after.items()}
    elsewhere = sum(ticks for tid, ticks in spent.items() if tid != pid)
    # Measured: the worker's own thread ~560 ticks, the others (its claim lease, the
    # listener) ~4; with SHAP on a thread per core, ~18 (this test's model is small).
    assert elsewhere <= spent[pid] / 60, sorted(spent.items(), key=lambda item: -item[1])[:4]


@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_share_a_batch_and_a_worker_killed_mid_chunk_loses_no_row(
    officer, trained_model, tmp_path, settings
) -> None:
    """Two workers each hold a chunk of the same batch at once (each stopped by the test gate
    right after its claim); one is SIGKILLed. The other decides the rest, the sweeper frees the
    dead claims and plans again, and every row ends with exactly one decision."""
    from credscope_site.celery import app

    queue = f"credscope-test-{uuid.uuid4().hex[:8]}"
    gate = f"credscope-test-gate-{uuid.uuid4().hex[:8]}"
    shared = redis.Redis.from_url(settings.REDIS_URL)
    settings.CREDSCOPE_BATCH_CHUNK_SIZE = 2  # the upload cuts the ranges
    env = worker_env(
        redis_url=settings.REDIS_URL,
        queue=queue,
        CREDSCOPE_SCORING_TEST_GATE=gate,
        CREDSCOPE_BATCH_CHUNK_SIZE="2",
    )
    doomed = WorkerProcess(queue, env, tmp_path / "doomed.log")
    survivor = WorkerProcess(queue, env, tmp_path / "survivor.log")
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    try:
        doomed.start()
        survivor.start()
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue
        batch = batch_intake.batch_create(actor=officer, filename="w.csv", content=csv_of(8))

        held = []
        for _ in range(2):
            claimed = shared.blpop([f"{gate}:claimed"], timeout=60)
            assert claimed is not None, (tmp_path / "doomed.log").read_text()[-3000:]
            held.append(claimed[1].decode())
        # Two different chunks of this batch, held at the same time by the two workers.
        assert len(set(held)) == 2 and all(h.startswith(f"{batch.pk}:") for h in held)
        scoring = LoanApplication.objects.filter(batch=batch, status="SCORING")
        assert (
            scoring.count() == 4 and len(set(scoring.values_list("scoring_claim", flat=True))) == 2
        )

        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        # Open the gate for every chunk left (the survivor's, the two queued, the re-planned).
        shared.rpush(f"{gate}:open", *["go"] * 10)

        wait_for(
            lambda: LoanApplication.objects.filter(batch=batch, status="DECIDED").count() == 6,
            90,
            "the survivor to decide its chunk and the two queued ones",
        )
        dead = list(
            LoanApplication.objects.filter(batch=batch, status="SCORING").values_list(
                "pk", flat=True
            )
        )
        assert len(dead) == 2  # the killed worker's chunk, still claimed
        assert BatchJob.objects.get(pk=batch.pk).status == BatchJob.Status.RUNNING

        report = sweeper.stuck_applications_requeue(
            older_than=timedelta(0), claim_older_than=timedelta(0)
        )
        assert sorted(report.released_claims) == sorted(dead)
        assert report.requeued_batches == [batch.pk]

        wait_for(
            lambda: BatchJob.objects.get(pk=batch.pk).status == BatchJob.Status.DONE,
            90,
            "the re-planned chunk and the batch to finish",
        )
        batch.refresh_from_db()
        assert decisions_per_row(batch) == {row: 1 for row in range(1, 9)}
        for application_id in LoanApplication.objects.filter(batch=batch).values_list(
            "pk", flat=True
        ):
            expected = [AuditAction.APPLICATION_SUBMITTED, AuditAction.APPLICATION_DECIDED]
            if application_id in dead:
                expected.insert(1, AuditAction.APPLICATION_REQUEUED)
            assert trail_of(application_id) == expected
        assert AuditEvent.objects.filter(action=AuditAction.BATCH_FINISHED).count() == 1
        assert selectors.batch_progress(batch=batch)["decided"] == 8
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved
        doomed.kill()
        survivor.stop()
        forget_queue(shared, queue)
        shared.delete(f"{gate}:claimed", f"{gate}:open")


@pytest.mark.django_db
def test_the_results_csv_reads_only_the_columns_it_shows(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    """Each decision stores hundreds of contributions; a 20,000-row results file that parsed
    them held a web process at 3.7 GB."""
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(actor=officer, filename="c.csv", content=csv_of(3))
    with CaptureQueriesContext(connection) as captured:
        rows = list(selectors.batch_results_rows(batch=batch))
    header = rows[0]
    status, reasons = header.index("status"), header.index("reasons")
    assert len(rows) == 4 and all(row[status] == "DECIDED" and row[reasons] for row in rows[1:])
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "contributions" not in sql and "application_row" not in sql
