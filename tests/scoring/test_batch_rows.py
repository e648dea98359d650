"""Batch rows people can find again: names, the SK_ID_CURR of invalid rows, resubmissions
flagged, and an API answer whose status agrees with its progress."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from applicants.models import LoanApplication
from applicants.services import batch_intake
from scoring import selectors
from tests.factories import DEFAULT_PASSWORD, LoanApplicationFactory, with_required_columns

HEADER = "SK_ID_CURR,full_name,NAME_CONTRACT_TYPE,AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH"
LINES = [
    "200001,Jana Novakova,Cash loans,180000,500000,-15000",
    "200002,  Petr   Svoboda ,Cash loans,-5,500000,-15000",  # negative income: invalid
    "200003,Eva Dvorak,Cash loans,90000,270000,-9000",  # submitted 3 days ago elsewhere
    "200001,Jana Novakova,Cash loans,180000,500000,-15000",  # again in this file
    "200004,Old Submission,Cash loans,90000,270000,-9000",  # submitted 40 days ago: fine
    "200005,Short Line",  # a ragged line still names its person
]


def upload() -> bytes:
    return with_required_columns("\n".join([HEADER, *LINES]))


def results(batch) -> list[dict[str, str]]:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(selectors.batch_results_rows(batch=batch))
    return list(csv.DictReader(io.StringIO(buffer.getvalue())))


@pytest.mark.django_db
def test_names_ids_and_resubmission_warnings_reach_the_lists_and_the_results(
    officer, other_officer, trained_model, django_capture_on_commit_callbacks, client, settings
) -> None:
    settings.CREDSCOPE_RESUBMISSION_DAYS = 30
    recent = LoanApplicationFactory(created_by=other_officer, applicant__external_id=200003)
    old = LoanApplicationFactory(created_by=other_officer, applicant__external_id=200004)
    LoanApplication.objects.filter(pk=recent.pk).update(
        submitted_at=timezone.now() - timedelta(days=3)
    )
    LoanApplication.objects.filter(pk=old.pk).update(
        submitted_at=timezone.now() - timedelta(days=40)
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_intake.batch_create(actor=officer, filename="names.csv", content=upload())
    batch.refresh_from_db()

    names = dict(
        LoanApplication.objects.filter(batch=batch).values_list("batch_row", "applicant__full_name")
    )
    assert names == {1: "Jana Novakova", 3: "Eva Dvorak", 4: "Jana Novakova", 5: "Old Submission"}
    assert set(batch.row_warnings) == {"3", "4"}  # warnings, yet both rows were scored
    assert (
        "200003 was already submitted in the last 30 days" in batch.row_warnings["3"]["SK_ID_CURR"]
    )
    assert f"#{recent.pk}" not in batch.row_warnings["3"]["SK_ID_CURR"]  # another officer's
    assert batch.row_warnings["4"] == {"SK_ID_CURR": "200001 is also on row 1 of this file"}

    rows = results(batch)
    assert [(r["row"], r["SK_ID_CURR"], r["full_name"], r["status"]) for r in rows] == [
        ("1", "200001", "Jana Novakova", "DECIDED"),
        ("2", "200002", "Petr   Svoboda", "INVALID"),
        ("3", "200003", "Eva Dvorak", "DECIDED"),
        ("4", "200001", "Jana Novakova", "DECIDED"),
        ("5", "200004", "Old Submission", "DECIDED"),
        ("6", "200005", "Short Line", "INVALID"),
    ]
    assert rows[1]["errors"] == "AMT_INCOME_TOTAL: must be greater than 0"
    assert rows[2]["warnings"].startswith("SK_ID_CURR: 200003 was already submitted")
    assert rows[0]["warnings"] == rows[4]["warnings"] == ""

    client.force_login(officer)
    page = client.get(reverse("applicants:batch_detail", args=[batch.pk])).content.decode()
    assert "Rows accepted with a warning" in page and "is also on row 1 of this file" in page
    assert "Eva Dvorak" in page
    listing = client.get(reverse("applicants:batch_list")).content.decode()
    decided = selectors.batch_progress(batch=batch)["outcomes"]
    for outcome, n in decided.items():
        assert f"{n} {outcome.lower()}</span>" in listing


@pytest.mark.django_db
def test_a_too_long_name_is_a_row_error_naming_the_column(officer, trained_model) -> None:
    content = with_required_columns(
        HEADER + "\n" + f"1,{'x' * 201},Cash loans,180000,500000,-15000"
    )
    batch = batch_intake.batch_create(actor=officer, filename="long.csv", content=content)
    assert batch.row_errors == {"1": {"full_name": "is 201 characters; at most 200 are kept"}}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_batch_apis_first_answer_states_a_status_consistent_with_its_progress(
    officer, trained_model
) -> None:
    """Without a broker the rows are scored inside the request: the answer must say so."""
    cache.clear()
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    file = SimpleUploadedFile("apps.csv", upload(), content_type="text/csv")
    response = client.post("/api/v1/batches/", {"file": file}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["progress"]["processed"] == body["total_rows"] == 6
    assert body["status"] == "done" and body["finished_at"] is not None
    assert set(body["row_warnings"]) == {"4"}  # the in-file repeat; nothing older exists
