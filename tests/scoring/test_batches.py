"""CSV batches: file checks, per-row errors beside scored rows, progress and results."""

import csv
import io

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from applicants.models import LoanApplication
from applicants.services import batch_intake
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import chunks, selectors
from scoring.ml.schema.records import clean_application
from scoring.models import BatchJob, Decision
from tests.factories import DEFAULT_PASSWORD, with_required_columns

HEADER = (
    "SK_ID_CURR,NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,AMT_ANNUITY,DAYS_BIRTH,EXT_SOURCE_2"
)
GOOD = [
    "100001,Cash loans,180000,500000,25000,-15000,0.72",
    ",Revolving loans,90000,270000,13500,-9000,0.31",
    "100003,Cash loans,300000,1200000,48000,-20000,",
]
BAD = ",Cash loans,-5,500000,25000,-15000,0.7"  # negative income


def csv_bytes(*lines: str) -> bytes:
    return with_required_columns("\n".join([HEADER, *lines]))


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        (b"", "file", "is empty"),
        (HEADER.encode() + b"\n", "file", "no rows"),
        (b"\xff\xfe\x00bad", "file", "not UTF-8"),
        (b"AMT_CREDIT,AMT_CREDIT,DAYS_BIRTH\n1,2,3\n", "header", "repeats column(s): AMT_CREDIT"),
        (b"TARGET,AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH\n1,1,1,-9000\n", "columns", "TARGET"),
        (b"AMT_CREDIT,DAYS_BIRTH\n1,-9000\n", "required", "AMT_INCOME_TOTAL"),
    ],
)
def test_file_level_problems_refuse_the_whole_file(officer, content, key, message) -> None:
    with pytest.raises(batch_intake.BatchInvalid) as caught:
        batch_intake.batch_create(actor=officer, filename="x.csv", content=content)
    assert message in caught.value.errors[key]
    assert not BatchJob.objects.exists() and not LoanApplication.objects.exists()


def test_size_and_row_limits(officer, settings) -> None:
    settings.CREDSCOPE_BATCH_MAX_ROWS = 2
    with pytest.raises(batch_intake.BatchInvalid, match="more than 2 rows"):
        batch_intake.batch_create(actor=officer, filename="x.csv", content=csv_bytes(*GOOD))
    settings.CREDSCOPE_BATCH_MAX_BYTES = 50
    with pytest.raises(batch_intake.BatchInvalid, match="the limit is 50 bytes"):
        batch_intake.batch_create(actor=officer, filename="x.csv", content=csv_bytes(GOOD[0]))


@pytest.mark.parametrize("persona", ["compliance", "model_admin"])
def test_only_officers_submit_batches(request, persona) -> None:
    with pytest.raises(PermissionDenied):
        batch_intake.batch_create(
            actor=request.getfixturevalue(persona), filename="x.csv", content=csv_bytes(*GOOD)
        )


def test_a_batch_with_bad_rows_scores_the_good_ones_and_reports_every_row(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    ragged = "1,2"
    content = csv_bytes(GOOD[0], BAD, GOOD[1], ragged, GOOD[2])
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(actor=officer, filename="mixed.csv", content=content)
    batch.refresh_from_db()
    assert batch.status == BatchJob.Status.DONE and batch.finished_at is not None
    assert (batch.total_rows, batch.invalid_rows) == (5, 2)
    columns = len(content.splitlines()[0].split(b","))
    assert batch.row_errors == {
        "2": {"AMT_INCOME_TOTAL": "must be greater than 0"},
        "4": {"row": f"has 2 cells; the header has {columns}"},
    }
    applications = LoanApplication.objects.filter(batch=batch).order_by("batch_row")
    assert [a.batch_row for a in applications] == [1, 3, 5]
    assert all(a.status == "DECIDED" and a.channel == "batch" for a in applications)
    assert [a.applicant.external_id for a in applications] == [100001, None, 100003]
    assert Decision.objects.filter(application__batch=batch).count() == 3

    progress = selectors.batch_progress(batch=batch)
    assert progress["decided"] == 3 and progress["invalid"] == 2 and progress["percent"] == 100.0
    assert sum(progress["outcomes"].values()) == 3

    buffer = io.StringIO()
    csv.writer(buffer).writerows(selectors.batch_results_rows(batch=batch))
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["row"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[1]["status"] == "INVALID"
    assert rows[1]["errors"] == "AMT_INCOME_TOTAL: must be greater than 0"
    assert rows[3]["errors"] == f"row: has 2 cells; the header has {columns}"
    for row in (rows[0], rows[2], rows[4]):
        assert row["status"] == "DECIDED" and row["outcome"] in {"APPROVE", "REFER", "REJECT"}
        assert 0 <= float(row["probability_of_default"]) <= 1
        assert row["reasons"] and row["model_version"] == trained_model.version
    assert rows[0]["SK_ID_CURR"] == "100001"

    actions = AuditEvent.objects.values_list("action", flat=True)
    assert list(actions).count(AuditAction.APPLICATION_SUBMITTED) == 3
    assert list(actions).count(AuditAction.APPLICATION_DECIDED) == 3
    assert list(actions).count(AuditAction.BATCH_SUBMITTED) == 1
    assert list(actions).count(AuditAction.BATCH_FINISHED) == 1


def test_a_rerun_of_a_finished_batch_changes_nothing(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(actor=officer, filename="a.csv", content=csv_bytes(*GOOD))
    chunks.batch_decide(batch_id=batch.pk, task_id="again")
    assert Decision.objects.filter(application__batch=batch).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_FINISHED).count() == 1


def test_the_batch_api_uploads_reports_progress_and_serves_results(
    officer, other_officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    cache.clear()
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("apps.csv", csv_bytes(GOOD[0], BAD), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/batches/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["filename"] == "apps.csv" and body["total_rows"] == 2 and body["invalid_rows"] == 1
    detail = client.get(body["url"]).json()
    assert detail["status"] == "done"
    assert detail["progress"]["decided"] == 1 and detail["progress"]["percent"] == 100.0
    results = client.get(body["results_url"])
    assert results.status_code == 200 and results["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(results.streaming_content).decode())))
    assert [line["status"] for line in lines] == ["DECIDED", "INVALID"]
    assert "AMT_INCOME_TOTAL: must be greater than 0" in lines[1]["errors"]

    stranger = APIClient()
    token = stranger.post(
        "/api/v1/auth/token/", {"username": "other_officer", "password": DEFAULT_PASSWORD}
    ).json()["token"]
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert stranger.get(body["url"]).status_code == 404
    assert stranger.get(body["results_url"]).status_code == 404


def test_a_large_batch_is_saved_row_for_row_with_each_rows_events_and_an_intact_chain(
    officer, trained_model, django_capture_on_commit_callbacks
) -> None:
    """Enough rows for the bulk paths (COPY on PostgreSQL): every valid row stored as the
    rules clean it, with its own applicant, its SUBMITTED and DECIDED events in the chain."""
    lines = [
        f"{100000 + n if n % 3 else ''},{'Cash loans' if n % 2 else 'Revolving loans'},"
        f"{90000 + 1000 * n},{270000 + 5000 * n},{13500 + 50 * n},{-9000 - 37 * n},"
        f"{'' if n % 4 == 0 else round(0.2 + n / 1000, 3)}"
        for n in range(180)
    ]
    for position in (7, 99, 150):
        lines[position] = BAD
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(
            actor=officer, filename="big.csv", content=csv_bytes(*lines)
        )
    batch.refresh_from_db()
    assert batch.status == BatchJob.Status.DONE
    assert sorted(batch.row_errors) == ["100", "151", "8"]

    # The file as uploaded: the test model's required columns appended to every line.
    header, *uploaded = csv_bytes(*lines).decode().splitlines()
    header = header.split(",")
    applications = {
        a.batch_row: a
        for a in LoanApplication.objects.filter(batch=batch).select_related("applicant", "decision")
    }
    assert len(applications) == 177
    for number, line in enumerate(uploaded, start=1):
        if str(number) in batch.row_errors:
            continue
        values = dict(zip(header, line.split(","), strict=True))
        external_id = values.pop("SK_ID_CURR")
        application = applications[number]
        assert application.application_row == clean_application(values, from_text=True)[0]
        assert application.applicant.external_id == (int(external_id) if external_id else None)
        assert application.applicant.days_birth == int(values["DAYS_BIRTH"])
        assert application.status == "DECIDED" and application.decision.reasons

    events = AuditEvent.objects.filter(target_type="applicants.loanapplication").order_by(
        "sequence"
    )
    by_target: dict[str, list[str]] = {}
    for event in events:
        by_target.setdefault(event.target_id, []).append(event.action)
        if event.action == AuditAction.APPLICATION_SUBMITTED:
            application = applications[event.payload["batch_row"]]
            assert event.target_id == str(application.pk)
            assert event.payload["applicant_id"] == application.applicant_id
            assert event.actor_id == officer.pk
    assert by_target == {
        str(a.pk): [AuditAction.APPLICATION_SUBMITTED, AuditAction.APPLICATION_DECIDED]
        for a in applications.values()
    }
    assert trail.verify().intact
