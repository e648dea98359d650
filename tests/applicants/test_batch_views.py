"""The batch pages through Django's test client: roles, upload errors, progress, results."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applicants.services import batch_intake as batches
from applicants.services.batch_intake import TEMPLATE_COLUMNS, template_csv
from scoring.ml.schema.records import clean_application
from scoring.models import BatchJob
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def a_batch(officer, *, status="done", total_rows=4, row_errors=None) -> BatchJob:
    row_errors = (
        {"3": {"AMT_CREDIT": "must be a number (got 'lots')"}} if row_errors is None else row_errors
    )
    return BatchJob.objects.create(
        created_by=officer,
        filename="march.csv",
        status=status,
        total_rows=total_rows,
        invalid_rows=len(row_errors),
        row_errors=row_errors,
    )


def decided_row(batch, row, **decision):
    return DecisionFactory(
        application__created_by=batch.created_by,
        application__batch=batch,
        application__batch_row=row,
        **decision,
    )


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        ("applicants:batch_list", {"officer": 200, "compliance": 200, "model_admin": 403}),
        ("applicants:batch_new", {"officer": 200, "compliance": 403, "model_admin": 403}),
        ("applicants:batch_template", {"officer": 200, "compliance": 403, "model_admin": 403}),
    ],
)
@pytest.mark.parametrize("persona", ["officer", "compliance", "model_admin"])
def test_batch_pages_per_role(client, request, url_name, expected, persona) -> None:
    response = login(client, request.getfixturevalue(persona)).get(reverse(url_name))
    assert response.status_code == expected[persona]


@pytest.mark.parametrize(
    "url", ["/batches/", "/batches/new/", "/batches/1/", "/batches/1/results.csv"]
)
def test_anonymous_visitors_are_sent_to_sign_in(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_compliance_reads_every_officers_batches_read_only(
    client, officer, other_officer, compliance
) -> None:
    mine, theirs = a_batch(officer), a_batch(other_officer, total_rows=7)
    decided_row(theirs, 1, outcome="APPROVE")
    client = login(client, compliance)
    listing = client.get(reverse("applicants:batch_list")).content.decode()
    assert "All batches" in listing and "Upload a batch" not in listing
    for batch in (mine, theirs):
        assert f'href="/batches/{batch.pk}/"' in listing
    assert "<td>officer</td>" in listing and "<td>other_officer</td>" in listing
    detail = client.get(reverse("applicants:batch_detail", args=[theirs.pk]))
    assert detail.status_code == 200 and "by other_officer" in detail.content.decode()
    status = client.get(reverse("applicants:batch_status", args=[theirs.pk])).json()
    assert status["total_rows"] == 7
    results = client.get(reverse("applicants:batch_results", args=[theirs.pk]))
    assert results.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(results.streaming_content).decode())))
    assert [r["outcome"] for r in rows if r["outcome"]] == ["APPROVE"]
    assert client.get(reverse("applicants:batch_new")).status_code == 403
    assert client.post(reverse("applicants:batch_new")).status_code == 403


def test_another_officers_batch_is_not_found(client, officer, other_officer) -> None:
    batch = a_batch(officer)
    client = login(client, other_officer)
    for name in ("applicants:batch_detail", "applicants:batch_status", "applicants:batch_results"):
        assert client.get(reverse(name, args=[batch.pk])).status_code == 404
    assert "march.csv" not in client.get(reverse("applicants:batch_list")).content.decode()


def test_the_template_is_a_csv_every_door_accepts(client, officer) -> None:
    response = login(client, officer).get(reverse("applicants:batch_template"))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == template_csv()
    header, lines = batches.parse_csv(response.content)
    assert tuple(header) == TEMPLATE_COLUMNS
    for cells in lines:
        values = dict(zip(header, cells, strict=True))
        values.pop(batches.EXTERNAL_ID_COLUMN)
        assert clean_application(values, from_text=True)[1] == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty"),
        (b"AMT_CREDIT,FAVOURITE_COLOUR\n1,blue\n", "Unknown column(s): FAVOURITE_COLOUR"),
        (b"AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH\n", "The file has a header but no rows"),
        (b"\xff\xfe\x00bad", "The file is not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_beside_the_field(client, officer, content, message):
    upload = SimpleUploadedFile("bad.csv", content, content_type="text/csv")
    response = login(client, officer).post(reverse("applicants:batch_new"), {"file": upload})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not BatchJob.objects.exists()


def test_a_file_must_be_chosen_and_be_a_csv(client, officer) -> None:
    client = login(client, officer)
    response = client.post(reverse("applicants:batch_new"), {})
    assert "Choose a CSV file to upload." in response.content.decode()
    upload = SimpleUploadedFile("rows.xlsx", b"x", content_type="application/vnd.ms-excel")
    response = client.post(reverse("applicants:batch_new"), {"file": upload})
    assert "Upload a .csv file" in response.content.decode()


def test_without_an_active_model_a_batch_is_not_saved(client, officer) -> None:
    upload = SimpleUploadedFile("ok.csv", template_csv().encode(), content_type="text/csv")
    response = login(client, officer).post(reverse("applicants:batch_new"), {"file": upload})
    assert response.status_code == 400
    assert "No model is active" in response.content.decode()
    assert not BatchJob.objects.exists()


def test_a_running_batch_shows_progress_and_polls(client, officer) -> None:
    batch = a_batch(officer, status="running", total_rows=4)
    decided_row(batch, 1, outcome="APPROVE")
    decided_row(batch, 2, outcome="REFER")
    LoanApplicationFactory(created_by=officer, batch=batch, batch_row=4)
    client = login(client, officer)

    html = client.get(reverse("applicants:batch_detail", args=[batch.pk])).content.decode()
    status_url = reverse("applicants:batch_status", args=[batch.pk])
    assert f'data-status-url="{status_url}"' in html
    assert 'style="width: 75.0%"' in html
    assert "3 of 4 rows processed" in html
    assert "Download results" not in html

    status = client.get(status_url).json()
    assert status["finished"] is False and status["status"] == "running"
    assert (status["processed"], status["decided"], status["invalid"]) == (3, 2, 1)
    assert status["outcomes"] == {"APPROVE": 1, "REFER": 1, "REJECT": 0}


def test_a_finished_batch_shows_the_summary_histogram_and_row_errors(client, officer) -> None:
    batch = a_batch(officer, total_rows=4)
    decided_row(batch, 1, outcome="APPROVE", probability_of_default=0.03, risk_band="LOW")
    decided_row(batch, 2, outcome="REFER", probability_of_default=0.11)
    decided_row(batch, 4, outcome="REJECT", probability_of_default=0.61, risk_band="VERY_HIGH")
    response = login(client, officer).get(reverse("applicants:batch_detail", args=[batch.pk]))
    html = response.content.decode()
    assert "Download results (CSV)" in html
    assert "must be a number (got &#x27;lots&#x27;)" in html
    histogram = json.loads(
        re.search(
            r'<script id="histogram-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert sum(histogram["counts"]) == 3
    # Bins of 5% up to the largest PD (61%): 0-5%, 10-15% and the last, open one.
    assert histogram["labels"][0] == "0\u20135%" and histogram["labels"][-1] == "\u2265 60%"
    assert histogram["counts"][0] == histogram["counts"][2] == histogram["counts"][-1] == 1
    assert histogram["zones"][0] == "APPROVE" and histogram["zones"][-1] == "REJECT"
    assert "vendor/chart.umd.min.js" in html


def test_results_csv_has_one_line_per_input_row_with_the_errors(client, officer) -> None:
    batch = a_batch(officer, total_rows=3)
    decided_row(batch, 1, outcome="APPROVE", probability_of_default=0.03, risk_band="LOW")
    decided_row(batch, 2, outcome="REFER")
    response = login(client, officer).get(reverse("applicants:batch_results", args=[batch.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="batch-{batch.pk}-results.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["row"] for row in rows] == ["1", "2", "3"]
    assert rows[0]["outcome"] == "APPROVE" and rows[0]["probability_of_default"] == "0.030000"
    assert rows[2]["status"] == "INVALID"
    assert rows[2]["errors"] == "AMT_CREDIT: must be a number (got 'lots')"


def test_batch_list_shows_an_officers_batches_or_an_empty_state(client, officer) -> None:
    client = login(client, officer)
    assert "No batches yet" in client.get(reverse("applicants:batch_list")).content.decode()
    a_batch(officer)
    html = client.get(reverse("applicants:batch_list")).content.decode()
    assert "march.csv" in html and "Results CSV" in html
